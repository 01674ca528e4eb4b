//! Header handling, one concern per file:
//! [`hop`] (connection-specific headers, RFC 9110 §7.6.1), [`hygiene`] (names the diary
//! must never see, head size limits), [`forwarded`] (client address), [`host`] (the
//! `Host` the diary sees), [`rewrite`] (redirect targets back to the public origin).

pub mod forwarded;
pub mod hop;
pub mod host;
pub mod hygiene;
pub mod rewrite;
