//! Who a person is, as both sides of a binding record it: pure comparisons of names and birth dates.

pub mod names;
