//! The variant names of an enum with a derived `Deserialize`, read from the
//! derive itself so that no hand-kept list can fall behind the enum.
//!
//! The derive passes every variant's name to `Deserializer::deserialize_enum`;
//! a deserializer that only records that argument learns the list.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// The names `T`'s derived `Deserialize` accepts as variants.
pub(crate) fn of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut names = None;
    let _ = T::deserialize(NameRecorder { names: &mut names });
    names.unwrap_or(&[])
}

struct NameRecorder<'a> {
    names: &'a mut Option<&'static [&'static str]>,
}

#[derive(Debug)]
struct Recorded;

impl fmt::Display for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("variant names recorded")
    }
}

impl std::error::Error for Recorded {}

impl de::Error for Recorded {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Recorded
    }
}

impl<'de> Deserializer<'de> for NameRecorder<'_> {
    type Error = Recorded;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Recorded> {
        Err(Recorded)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Recorded> {
        *self.names = Some(variants);
        Err(Recorded)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use crate::Command;

    #[test]
    fn every_command_variant_is_listed_in_order() {
        let names = Command::variant_names();
        assert_eq!(names.first(), Some(&"SubmitJob"));
        assert!(names.contains(&"RequeueJob"), "{names:?}");
        // Each encoded command's tag is one of them.
        let command = Command::AccountingAck { upto: 1, now_ms: 2 };
        let json = serde_json::to_value(&command).unwrap();
        let tag = json.as_object().unwrap().keys().next().unwrap().clone();
        assert!(names.contains(&tag.as_str()));
    }
}
