//! The language of the gateway's own pages (Russian by default, English available).
//! At the bottom of the crate: every layer that renders words takes it.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    Ru,
    En,
}

impl Language {
    /// The `lang` attribute's value: `ru`, `en`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Ru => "ru",
            Self::En => "en",
        }
    }
}
