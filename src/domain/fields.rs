//! Reading a JSON request body field by field, collecting every problem instead of stopping
//! at the first. `""` and `null` mean "not given" (API.md).

use serde_json::{Map, Value};

use super::problem::{FieldError, Reason};

/// What a body says about one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Given<T> {
    /// Absent from the body.
    Absent,
    /// `""` or `null`: not given (in PATCH: clear it).
    Empty,
    /// A value.
    Value(T),
}

impl<T> Given<T> {
    /// The value, if one was given.
    pub fn value(self) -> Option<T> {
        match self {
            Given::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// A body being read; problems accumulate in `errors`.
pub struct Fields<'a> {
    body: &'a Map<String, Value>,
    /// Every problem found so far, in the order the fields were read.
    pub errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    /// Reads an object body; anything else is one problem on the whole body.
    pub fn new(body: &'a Value) -> Result<Fields<'a>, FieldError> {
        match body {
            Value::Object(map) => Ok(Fields {
                body: map,
                errors: Vec::new(),
            }),
            _ => Err(FieldError::with_message(
                "body",
                Reason::InvalidValue,
                "Invalid request body: a JSON object is expected",
            )),
        }
    }

    /// Records a problem.
    pub fn problem(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// The raw value of a field.
    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        self.body.get(name)
    }

    /// A text field (numbers are accepted as their text: ids may come as either).
    /// Wrong types and NUL characters are problems.
    pub fn text(&mut self, name: &str) -> Given<String> {
        match self.body.get(name) {
            None => Given::Absent,
            Some(Value::Null) => Given::Empty,
            Some(Value::String(s)) if s.is_empty() => Given::Empty,
            Some(Value::String(s)) if s.contains('\0') => {
                self.problem(FieldError::invalid(name, Reason::InvalidValue));
                Given::Absent
            }
            Some(Value::String(s)) => Given::Value(s.clone()),
            Some(Value::Number(n)) => Given::Value(n.to_string()),
            Some(_) => {
                self.problem(FieldError::invalid(name, Reason::InvalidValue));
                Given::Absent
            }
        }
    }

    /// A required text field parsed by `parse`; problems use `message` (else the generic one).
    pub fn required<T>(
        &mut self,
        name: &str,
        message: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let error = |reason| match message {
            Some(m) => FieldError::with_message(name, reason, m),
            None => FieldError::invalid(name, reason),
        };
        match self.text(name) {
            Given::Value(v) => match parse(&v) {
                Ok(t) => Some(t),
                Err(_) => {
                    self.problem(error(Reason::InvalidValue));
                    None
                }
            },
            Given::Empty | Given::Absent => {
                if !self.errors.iter().any(|e| e.field == name) {
                    self.problem(error(Reason::Missing));
                }
                None
            }
        }
    }

    /// A required text field taken as it is.
    pub fn required_text(&mut self, name: &str) -> Option<String> {
        self.required(name, None, |s| Ok::<_, String>(s.to_owned()))
    }

    /// An optional text field parsed by `parse`.
    pub fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, Reason>,
    ) -> Given<T> {
        match self.text(name) {
            Given::Value(v) => match parse(&v) {
                Ok(t) => Given::Value(t),
                Err(reason) => {
                    self.problem(FieldError::invalid(name, reason));
                    Given::Absent
                }
            },
            Given::Empty => Given::Empty,
            Given::Absent => Given::Absent,
        }
    }
}

/// A name-like text of `min..=max` characters.
pub fn bounded(min: usize, max: usize) -> impl Fn(&str) -> Result<String, Reason> {
    move |s: &str| {
        let n = s.chars().count();
        if n < min {
            Err(Reason::TooShort)
        } else if n > max {
            Err(Reason::TooLong)
        } else {
            Ok(s.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_and_null_mean_not_given() {
        let body = json!({"a": "", "b": null, "c": "x", "d": 5, "e": [1], "f": "a\u{0}b"});
        let mut f = Fields::new(&body).unwrap();
        assert_eq!(f.text("a"), Given::Empty);
        assert_eq!(f.text("b"), Given::Empty);
        assert_eq!(f.text("c"), Given::Value("x".into()));
        assert_eq!(f.text("d"), Given::Value("5".into()));
        assert_eq!(f.text("missing"), Given::Absent);
        assert_eq!(f.text("e"), Given::Absent);
        assert_eq!(f.text("f"), Given::Absent);
        let fields: Vec<_> = f.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["e", "f"]);
    }
}
