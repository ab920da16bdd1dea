//! Placeholder lists of the multi-row statements both backends share. Postgres numbers its
//! parameters (`$1, $2, …`); on SQLite these lists are positional `?`s, bound in the order
//! they appear: SQLite (and sqlx on it) looks a `$N` up by name in a list as it prepares and
//! binds, so a statement of thousands of `$N`s costs time quadratic in their number — the
//! better part of a bulk import's time, measured. A statement built with these has no other
//! placeholder before the list (or uses [`one`] for it, and binds in text order).

use super::backend::Backend;

/// The `i`th parameter of a statement whose lists come from here: `$i`, or `?` on a
/// positional backend.
pub(super) fn one<B: Backend>(i: usize) -> String {
    if B::POSITIONAL_PARAMS {
        "?".to_owned()
    } else {
        format!("${i}")
    }
}

/// `$first, …` (or `?, …`) for `n` placeholders.
pub(super) fn list<B: Backend>(first: usize, n: usize) -> String {
    numbered_list(first, n, B::POSITIONAL_PARAMS)
}

/// `($1, $2, …), (…)` (or `(?, ?, …), (…)`) for `rows` rows of `cols` values.
pub(super) fn values<B: Backend>(rows: usize, cols: usize) -> String {
    numbered_values(rows, cols, B::POSITIONAL_PARAMS)
}

fn numbered_list(first: usize, n: usize, positional: bool) -> String {
    let mut s = String::with_capacity(n * 5);
    for i in first..first + n {
        if i > first {
            s.push_str(", ");
        }
        if positional {
            s.push('?');
        } else {
            s.push('$');
            s.push_str(&i.to_string());
        }
    }
    s
}

fn numbered_values(rows: usize, cols: usize, positional: bool) -> String {
    let mut s = String::with_capacity(rows * (cols * 6 + 4));
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        s.push_str(&numbered_list(r * cols + 1, cols, positional));
        s.push(')');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::{numbered_list, numbered_values};

    #[test]
    fn numbers_every_value_once_in_order() {
        assert_eq!(numbered_list(3, 2, false), "$3, $4");
        assert_eq!(numbered_list(1, 0, false), "");
        assert_eq!(numbered_values(2, 3, false), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(numbered_values(1, 1, false), "($1)");
    }

    #[test]
    fn positional_lists_have_one_mark_per_value() {
        assert_eq!(numbered_list(3, 2, true), "?, ?");
        assert_eq!(numbered_values(2, 2, true), "(?, ?), (?, ?)");
    }
}
