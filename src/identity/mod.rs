//! Who a person is: the identity vocabulary every layer speaks ([`vocab`]: roles,
//! account levels, sign-in methods, the role → level table) and the pure comparisons of
//! names and birth dates used at linking ([`names`]), and what ESIA said about the person
//! until that check ([`person`]).

pub mod names;
pub mod person;
pub mod vocab;

pub use vocab::{AccountLevel, AuthMethod, Role, RoleLevels};
