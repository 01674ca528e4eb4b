//! Legacy e-diary stand-in (being built).
