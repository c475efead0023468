//! A text's windows (`Text::split`): a validation split outside (0, 1) is
//! refused, as for table data. Found by the `text_reader` fuzz target: a
//! negative split cut the text past its end (a panic when counting windows).

use std::sync::Arc;

use synapse_train::{Rows, Text};

#[test]
fn a_validation_split_outside_0_1_is_refused() {
    let text = Arc::new(Text::from_text("abcdefghijklmnop").unwrap());
    for f in [-0.1, 0.0, 1.0, 1.5, f64::NAN, f64::INFINITY] {
        let e = Text::split(&text, 3, 1, Some(f)).unwrap_err().to_string();
        assert!(
            e.contains("val-split") && e.contains("between 0 and 1"),
            "{f}: {e}"
        );
    }
    // Half of 16 characters: 5 windows of 3 and the next character each side.
    let (train, val) = Text::split(&text, 3, 1, Some(0.5)).unwrap();
    assert_eq!((train.len(), val.map(|v| v.len())), (5, Some(5)));
}
