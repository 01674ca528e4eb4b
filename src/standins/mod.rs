//! Stand-ins for the outside world, shipped for the demo, the tests and staging:
//! a protocol-faithful ESIA ([`esia_mock`]) and a small legacy e-diary ([`demo_diary`]).
//! They are real servers, apart from the product code; nothing in the gateway uses them.

pub mod demo_diary;
pub mod esia_mock;
