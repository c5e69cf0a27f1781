//! Temporary: replaced by the stage library.
use std::fmt;
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgo {
    Sha256,
    Sha512,
    Xxh64,
    Xxh3,
    Xxh128,
}
impl ChecksumAlgo {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
            Self::Xxh64 => "xxh64",
            Self::Xxh3 => "xxh3",
            Self::Xxh128 => "xxh128",
        }
    }
}
impl std::str::FromStr for ChecksumAlgo {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "sha256" => Self::Sha256,
            "sha512" => Self::Sha512,
            "xxh64" => Self::Xxh64,
            "xxh3" => Self::Xxh3,
            "xxh128" => Self::Xxh128,
            _ => return Err(s.into()),
        })
    }
}
impl fmt::Display for ChecksumAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseMode {
    Ascii,
    Unicode,
}
