//! The grammar every element kind shares: `name` or `name(arguments)`, the
//! arguments sizes first and then `name=value` options, or for a block
//! (`residual`) whole elements; and the checked readers of a size, a number
//! and a flag. Each kind's `parse` (in its own module) reads its arguments
//! with these. Errors are the reason alone: the caller names the element.
//!
//! ```text
//! element   := name | name "(" arguments ")"
//! arguments := size ("," size)* ("," option)*  |  element ("," element)*
//! option    := name "=" value
//! ```

/// The text between an element's parentheses (`None` without them).
#[derive(Debug, Clone, Copy)]
pub struct Args<'a> {
    text: Option<&'a str>,
}

/// Sizes first, then `name=value` options.
#[derive(Debug, Clone)]
pub struct Split<'a> {
    /// The sizes, as written.
    pub sizes: Vec<&'a str>,
    options: Vec<(&'a str, &'a str)>,
}

impl<'a> Args<'a> {
    /// The arguments of `element` (whitespace already removed): its name and
    /// what is between its outer parentheses.
    pub fn of(element: &'a str) -> Result<(&'a str, Args<'a>), String> {
        match element.split_once('(') {
            None => Ok((element, Args { text: None })),
            Some((name, rest)) => match rest.strip_suffix(')') {
                Some(inner) if balanced(inner) => Ok((name, Args { text: Some(inner) })),
                _ => Err("text after the closing parenthesis".into()),
            },
        }
    }

    /// The raw text between the parentheses (a block's elements).
    pub fn text(&self) -> Option<&'a str> {
        self.text
    }

    /// Refuses any argument (`sigmoid(2)`).
    pub fn none(&self, name: &str) -> Result<(), String> {
        match self.text {
            None => Ok(()),
            Some(_) => Err(format!("`{name}` takes no arguments")),
        }
    }

    /// Sizes and options; nested parentheses are refused here.
    pub fn split(&self) -> Result<Split<'a>, String> {
        let mut out = Split {
            sizes: Vec::new(),
            options: Vec::new(),
        };
        let Some(text) = self.text else {
            return Ok(out);
        };
        if text.contains(['(', ')']) {
            return Err("text after the closing parenthesis".into());
        }
        for part in text.split(',') {
            match part.split_once('=') {
                Some((name, value)) => {
                    if out.options.iter().any(|(n, _)| *n == name) {
                        return Err(format!("option `{name}` is given twice"));
                    }
                    out.options.push((name, value));
                }
                None if out.options.is_empty() => out.sizes.push(part),
                None => return Err(format!("`{part}`: sizes come before the options")),
            }
        }
        Ok(out)
    }
}

/// Whether every `(` in `text` has its `)`, in order.
fn balanced(text: &str) -> bool {
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return false,
            ')' => depth -= 1,
            _ => {}
        }
    }
    depth == 0
}

impl<'a> Split<'a> {
    /// Refuses any option not in `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), String> {
        match self.options.iter().find(|(n, _)| !known.contains(n)) {
            None => Ok(()),
            Some((n, v)) if known.is_empty() => {
                Err(format!("`{n}={v}`: this element takes no options"))
            }
            Some((n, v)) => Err(format!(
                "`{n}={v}`: expected an option among {}",
                known.join(", ")
            )),
        }
    }

    /// The value of option `name`, if given.
    pub fn option(&self, name: &str) -> Option<&'a str> {
        self.options
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// Checks the number of sizes: `usage` says what `name` needs.
    pub fn count(
        &self,
        n: std::ops::RangeInclusive<usize>,
        name: &str,
        usage: &str,
    ) -> Result<(), String> {
        if n.contains(&self.sizes.len()) {
            Ok(())
        } else {
            Err(format!("{name} needs {usage}"))
        }
    }
}

/// A whole number of at least `min` (`what` names it in the error).
pub fn whole(text: &str, what: &str, min: usize) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(v) if v >= min => Ok(v),
        _ if min == 0 => Err(format!("`{text}` is not a whole number ({what})")),
        _ => Err(format!("`{text}` is not a positive whole number ({what})")),
    }
}

/// A finite number for which `ok` holds; `range` says which in the error.
pub fn number(
    text: &str,
    what: &str,
    ok: impl Fn(f64) -> bool,
    range: &str,
) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && ok(v) => Ok(v),
        Ok(v) if v.is_finite() => Err(format!("{what} {text} is out of range: expected {range}")),
        _ => Err(format!("`{text}` is not a finite number ({what})")),
    }
}

/// A `true`/`false` option, `default` when not given.
pub fn flag(text: Option<&str>, name: &str, default: bool) -> Result<bool, String> {
    match text {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(format!(
            "`{name}={other}`: expected {name}=false or {name}=true"
        )),
    }
}

/// The deepest nesting of parentheses a spec may have (`residual(` inside
/// `residual(` ...): parsing, shapes, state and `Display` recurse once per
/// level, so the limit keeps them far from the thread's stack (serde_json
/// stops at 128).
pub const MAX_SPEC_DEPTH: usize = 64;

/// Refuses `text` when its parentheses nest deeper than [`MAX_SPEC_DEPTH`],
/// counting in one pass before anything recurses; the error names the depth
/// and the limit.
pub fn check_depth(text: &str) -> Result<(), String> {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_SPEC_DEPTH {
        return Err(format!(
            "the spec nests parentheses {deepest} levels deep; at most {MAX_SPEC_DEPTH} are allowed"
        ));
    }
    Ok(())
}

/// `text` cut at its top-level commas (outside parentheses); an error names
/// the piece with unbalanced parentheses by its position.
pub fn split_top_level(text: &str) -> Result<Vec<&str>, (usize, String)> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (pos, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Err((parts.len(), text[start..].to_string())),
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..pos]);
                start = pos + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err((parts.len(), text[start..].to_string()));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_come_before_the_options() {
        let split = |t| Args { text: Some(t) }.split();
        let s = split("3,4,bias=false").unwrap();
        assert_eq!(s.sizes, ["3", "4"]);
        assert_eq!(s.option("bias"), Some("false"));
        let e = split("3,bias=false,4").unwrap_err();
        assert_eq!(e, "`4`: sizes come before the options");
        assert_eq!(split("a=1,a=2").unwrap_err(), "option `a` is given twice");
        assert!(Args { text: None }.split().unwrap().sizes.is_empty());
    }

    /// `balanced`: every `)` closes an earlier `(`, and all are closed.
    #[test]
    fn parentheses_balance_only_in_order() {
        for (text, want) in [
            ("", true),
            ("a", true),
            ("(a)", true),
            ("(a),(b(c))", true),
            ("((a)", false),
            ("(a))", false),
            ("a)(b", false),
            (")(", false),
        ] {
            assert_eq!(balanced(text), want, "{text}");
        }
        // `Args::of` takes the text between the outer parentheses only when
        // it balances: `residual(a)(b)` is not `residual` of `a)(b`.
        assert!(Args::of("residual(a)(b)").is_err());
        assert_eq!(Args::of("residual(a(b))").unwrap().1.text(), Some("a(b)"));
    }

    #[test]
    fn the_depth_limit_counts_the_deepest_nesting() {
        let nested = |d: usize| format!("{}x{}", "(".repeat(d), ")".repeat(d));
        assert!(check_depth(&nested(MAX_SPEC_DEPTH)).is_ok());
        let e = check_depth(&nested(MAX_SPEC_DEPTH + 1)).unwrap_err();
        assert!(e.contains("65 levels deep; at most 64"), "{e}");
        // Siblings do not add up: 64 groups of depth 1 are depth 1.
        assert!(check_depth(&"(x)".repeat(MAX_SPEC_DEPTH + 1)).is_ok());
        // Stray closers do not lower the count below zero.
        assert!(check_depth(&format!("))){}", nested(MAX_SPEC_DEPTH))).is_ok());
        let e = check_depth(&format!(")){}", nested(MAX_SPEC_DEPTH + 1))).unwrap_err();
        assert!(e.contains("65 levels"), "{e}");
    }
}
