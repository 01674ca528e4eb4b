//! ESIA stand-in (being built).
