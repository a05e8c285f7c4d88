//! Marathon's tolerance, as its app reader has it (Marathon 1.10: `AppsResource` reads a body with
//! `Json.parse(body).as[raml.App]`, the play-json `Reads` generated from the RAML types by `type-generator/`):
//! - **unknown fields** are ignored: the generated reader looks up the fields it knows and never the others (ucr
//!   skips them too, and reports them: `json::from_value_skipping_unknown`);
//! - **`null` is absent** for every optional field: optional fields are read with `validateOpt`, which is
//!   `Reads.optionWithNull` (play-json 2.8.1 `JsLookup.scala`), so `"fetch": null` is no `fetch`. A required
//!   field that is null is missing. Entries of the maps (`env`, `labels`, `secrets`) are values, not fields: a
//!   null there is refused, as by Marathon (`Map[String, String]` reads no null);
//! - **enum values in any case**: every RAML enum is read by `s.toLowerCase match { case "docker" => ... }`
//!   (`type-generator/src/main/resources/templates/enum.liquid`, `backend/treehugger/EnumVisitor.scala`), so
//!   `"type": "docker"`, `"network": "bridge"` and `"mode": "ro"` are read ([`marathon_enum`]);
//! - **numbers**: integer fields (`format: int32`/`int64` → Scala `Int`/`Long`) use play-json's `IntReads` and
//!   `LongReads`, which take a JSON number that `isValidInt`/`isValidLong` — `8080.0` is 8080, `1.5` is an error —
//!   and doubles use `DoubleReads`. None of the three takes a string (play-json 2.8.1 `Reads.scala`: only
//!   `BigDecimal`/`BigInt` read `JsString`, and no field of the app RAML maps to them; Marathon pins play-json
//!   2.8.1 in `project/Dependencies.scala`). So `"cpus": "1"` stays an error, as in Marathon, and whole numbers
//!   written as floats are made integers before the mirror types read them.

use serde_json::Value;

/// The top-level fields of an app whose objects are maps with names the user chose: their null entries are
/// values (refused by the mirror types), not absent fields.
const MAPS: [&str; 3] = ["env", "labels", "secrets"];

/// Drops null-valued fields at any depth (not map entries, see [`MAPS`]) and writes whole numbers as integers, so
/// the mirror types read the document as Marathon's reader does.
pub fn normalize(app: &mut Value) {
    if let Value::Object(fields) = app {
        fields.retain(|_, v| !v.is_null());
        for (name, v) in fields.iter_mut() {
            match v {
                // The entries stay, null or not; each is a value read as any other.
                Value::Object(map) if MAPS.contains(&name.as_str()) => {
                    map.values_mut().for_each(normalize_value)
                }
                _ => normalize_value(v),
            }
        }
    }
}

/// The fields of a pod whose objects are maps with names the user chose, wherever they occur: the pod's and each
/// container's `environment`, the `labels` of the pod, its containers, images, endpoints and networks, and the
/// pod's `secrets`. No field of the pod RAML with one of these names is anything but such a map.
const POD_MAPS: [&str; 3] = ["environment", "labels", "secrets"];

/// [`normalize`] for a pod definition: as for an app, with the map entries of [`POD_MAPS`] kept at any depth.
pub fn normalize_pod(pod: &mut Value) {
    match pod {
        Value::Object(fields) => {
            fields.retain(|_, v| !v.is_null());
            for (name, v) in fields.iter_mut() {
                match v {
                    Value::Object(map) if POD_MAPS.contains(&name.as_str()) => {
                        map.values_mut().for_each(normalize_pod)
                    }
                    _ => normalize_pod(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_pod),
        other => normalize_value(other),
    }
}

fn normalize_value(v: &mut Value) {
    match v {
        Value::Object(fields) => {
            fields.retain(|_, x| !x.is_null());
            fields.values_mut().for_each(normalize_value);
        }
        // A null item of an array is a value, refused as Marathon's `Seq` reads refuse it.
        Value::Array(items) => items.iter_mut().for_each(normalize_value),
        Value::Number(n) => {
            if let Some(whole) = whole_number(n) {
                *v = Value::from(whole);
            }
        }
        _ => {}
    }
}

/// A float with no fraction, as an integer (JSON has one number type; `isValidInt` takes `8080.0`). Only below
/// 2^53, where every integer is a float exactly; larger ones are out of range for every integer field anyway.
fn whole_number(n: &serde_json::Number) -> Option<i64> {
    if n.is_i64() || n.is_u64() {
        return None;
    }
    let f = n.as_f64()?;
    (f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0).then_some(f as i64)
}

/// Declares an enum of Marathon's RAML read as Marathon reads it: the value names in any case (see the module
/// docs); anything else is an error listing the names. `as_str` gives the name as the schema writes it.
macro_rules! marathon_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            #[allow(dead_code)]
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                $(
                    if s.eq_ignore_ascii_case($text) {
                        return Ok($name::$variant);
                    }
                )+
                Err(serde::de::Error::unknown_variant(&s, &[$($text),+]))
            }
        }
    };
}
pub(crate) use marathon_enum;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    marathon_enum!(Mode {
        ContainerBridge = "container/bridge",
        Ro = "RO",
    });

    #[test]
    fn enums_in_any_case() {
        let read = |s: &str| serde_json::from_value::<Mode>(json!(s)).map_err(|e| e.to_string());
        assert_eq!(read("CONTAINER/Bridge"), Ok(Mode::ContainerBridge));
        assert_eq!(read("ro"), Ok(Mode::Ro));
        assert_eq!(
            read("rx"),
            Err("unknown variant `rx`, expected `container/bridge` or `RO`".into())
        );
        assert!(serde_json::from_value::<Mode>(json!(1)).is_err());
    }

    #[test]
    fn pod_maps_kept_at_any_depth() {
        let mut pod = json!({
            "id": "/p", "user": null, "environment": {"A": null},
            "containers": [{"name": "c", "environment": {"B": null, "C": {"secret": "s", "x": null}},
                            "labels": {"L": null}, "endpoints": [{"name": "e", "hostPort": 80.0, "labels": null}]}],
        });
        normalize_pod(&mut pod);
        assert_eq!(
            pod,
            json!({
                "id": "/p", "environment": {"A": null},
                "containers": [{"name": "c", "environment": {"B": null, "C": {"secret": "s"}},
                                "labels": {"L": null}, "endpoints": [{"name": "e", "hostPort": 80}]}],
            })
        );
    }

    #[test]
    fn nulls_dropped_but_map_entries_kept_and_whole_numbers_made_integers() {
        let mut app = json!({
            "id": "/a", "fetch": null, "cpus": 1.0, "mem": 0.5,
            "container": {"docker": {"image": "b", "network": null}, "portMappings": [{"hostPort": 80.0}]},
            "env": {"A": null, "B": {"secret": "s", "x": null}},
            "labels": {"L": null},
            "big": 1e300,
        });
        normalize(&mut app);
        assert_eq!(
            app,
            json!({
                "id": "/a", "cpus": 1, "mem": 0.5,
                "container": {"docker": {"image": "b"}, "portMappings": [{"hostPort": 80}]},
                "env": {"A": null, "B": {"secret": "s"}},
                "labels": {"L": null},
                "big": 1e300,
            })
        );
    }
}
