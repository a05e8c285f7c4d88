//! Protobuf-JSON scalars as Mesos' own JSON parser (stout `protobuf::parse`) reads them, for the mirror types of
//! the request formats: numbers may also be written as strings (`"4096"`, which Go and Java protobuf printers
//! emit for 64-bit integers), doubles may be `"Infinity"` (Mesos `limits`), and enums are their names.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Declares a protobuf enum mirrored by its value names: deserializes from exactly those names (anything else
/// is an error listing them) and gives the name back with `as_str`.
macro_rules! proto_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            #[allow(dead_code)]
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }
    };
}
pub(crate) use proto_enum;

/// A protobuf `double`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PDouble(pub f64);

/// A protobuf `uint64`/`uint32`/`int64`, held as the widest type; callers narrow with a checked conversion that
/// names the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PInt(pub i128);

impl<'de> Deserialize<'de> for PDouble {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PDouble;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, or a string holding a number or \"Infinity\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<PDouble, E> {
                Ok(PDouble(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PDouble, E> {
                Ok(PDouble(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PDouble, E> {
                Ok(PDouble(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PDouble, E> {
                match v {
                    "Infinity" => Ok(PDouble(f64::INFINITY)),
                    "-Infinity" => Ok(PDouble(f64::NEG_INFINITY)),
                    // `f64::from_str` would also take "inf" and "NaN", which are not JSON numbers.
                    _ if v
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) =>
                    {
                        v.parse()
                            .map(PDouble)
                            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
                    }
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for PInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PInt;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer, or a string holding one")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PInt, E> {
                Ok(PInt(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PInt, E> {
                Ok(PInt(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<PInt, E> {
                // JSON has one number type: 8192.0 is an integer; 1.5 is not.
                if v.fract() == 0.0 && v.abs() < 1e19 {
                    Ok(PInt(v as i128))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PInt, E> {
                v.parse()
                    .map(PInt)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

impl PInt {
    /// Narrows to the field's real type, or an error message naming the range.
    pub fn to<T: TryFrom<i128>>(self, what: &str) -> Result<T, String> {
        T::try_from(self.0).map_err(|_| format!("{} is out of range for {what}", self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles() {
        let d = |s: &str| serde_json::from_str::<PDouble>(s).map(|d| d.0);
        assert_eq!(d("1.5").ok(), Some(1.5));
        assert_eq!(d("2").ok(), Some(2.0));
        assert_eq!(d("\"512\"").ok(), Some(512.0));
        assert_eq!(d("\"Infinity\"").ok(), Some(f64::INFINITY));
        assert!(d("\"inf\"").is_err());
        assert!(d("\"NaN\"").is_err());
        assert!(d("true").is_err());
    }

    #[test]
    fn ints() {
        let i = |s: &str| serde_json::from_str::<PInt>(s).map(|d| d.0);
        assert_eq!(i("4096").ok(), Some(4096));
        assert_eq!(i("\"18446744073709551615\"").ok(), Some(u64::MAX.into()));
        assert_eq!(i("8192.0").ok(), Some(8192));
        assert!(i("1.5").is_err());
        assert_eq!(
            PInt(70000).to::<u16>("a port").expect_err("must fail"),
            "70000 is out of range for a port"
        );
    }
}
