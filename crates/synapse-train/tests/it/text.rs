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

/// The vocabulary is the text's distinct characters, sorted; a character
/// whose bytes straddle the reader's 1 MiB chunks is read whole.
#[test]
fn a_character_across_the_readers_chunks_is_one_character() {
    assert_eq!(Text::from_text("banana").unwrap().vocab(), ['a', 'b', 'n']);
    let dir = std::env::temp_dir().join(format!("synapse-text-chunk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("straddle.txt");
    // 'é' is 2 bytes: its first ends the first chunk, its second starts the next.
    let text = format!("{}é{}", "a".repeat((1 << 20) - 1), "b".repeat(5));
    std::fs::write(&path, &text).unwrap();
    let t = Text::load(&path).unwrap();
    assert_eq!(t.vocab(), ['a', 'b', 'é']);
    assert_eq!(t.len(), (1 << 20) - 1 + 1 + 5);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A tokenizer file that is not JSON says what the JSON reader found, on one line.
#[test]
fn a_tokenizer_that_is_not_json_says_why_on_one_line() {
    let e = synapse_train::Tokenizer::from_json("{\n  \"model\": ")
        .unwrap_err()
        .to_string();
    assert!(e.contains("EOF while parsing") && !e.contains('\n'), "{e}");
}

/// Token windows fit a stack that takes every id of the tokenizer and
/// scores each of its `V` ids at each position; another is refused by name.
#[test]
fn token_windows_need_a_score_per_id_at_each_position() {
    use synapse_nn::{ArchSpec, Loss};
    let tok = synapse_train::tokenizer::train_bpe_from_texts(&["low lower lowest\nlow low\n"], 260)
        .unwrap();
    let dir = std::env::temp_dir().join(format!("synapse-text-tokens-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tokens.txt");
    std::fs::write(&path, "low lower lowest low low lower lowest\n").unwrap();
    let text = Arc::new(Text::load_tokens(&path, Arc::new(tok)).unwrap());
    let (windows, _) = Text::split(&text, 4, 1, None).unwrap();
    let fits = |arch: &str| {
        let spec: ArchSpec = arch.parse().unwrap();
        windows.check_fits(&spec, Loss::CrossEntropy)
    };
    fits("embedding(260,8), linear(8,260)").unwrap();
    fits("embedding(300,8), linear(8,300)").unwrap();
    let e = fits("embedding(260,8), linear(8,7)")
        .unwrap_err()
        .to_string();
    assert!(e.contains("a language model gives [4, 260]"), "{e}");
    let e = fits("embedding(200,8), linear(8,200)")
        .unwrap_err()
        .to_string();
    assert!(e.contains("260") && e.contains("200"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Character windows fit a stack that starts with `embedding(V,D)` for the
/// text's `V` characters and scores each of them at each position; another
/// is refused, naming what it gives and what a character model gives.
#[test]
fn character_windows_need_a_score_per_character_at_each_position() {
    use synapse_nn::{ArchSpec, Loss};
    let text = Arc::new(Text::from_text("abcabcabd").unwrap());
    let (windows, _) = Text::split(&text, 3, 1, None).unwrap();
    let fits = |arch: &str, loss: Loss| {
        let spec: ArchSpec = arch.parse().unwrap();
        windows.check_fits(&spec, loss)
    };
    fits("embedding(4,8), linear(8,4)", Loss::CrossEntropy).unwrap();
    let e = fits("embedding(4,8), linear(8,5)", Loss::CrossEntropy)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the stack gives [3, 5]") && e.contains("a character model gives [3, 4]"),
        "{e}"
    );
    let e = fits("embedding(5,8), linear(8,5)", Loss::CrossEntropy)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("4 distinct characters") && e.contains("embedding(4,D)"),
        "{e}"
    );
    let e = fits("embedding(4,8), linear(8,4)", Loss::Mse)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cross-entropy"), "{e}");
}

/// The ids a text needs: its distinct characters; and its windows'
/// fingerprint (what a checkpoint stores to know its text again) changes
/// with one character of the text.
#[test]
fn vocabulary_size_and_fingerprint_follow_the_text() {
    let a = Arc::new(Text::from_text("banana split").unwrap());
    assert_eq!(a.vocab_size(), 9);
    let b = Arc::new(Text::from_text("banana spliT").unwrap());
    let windows = |t: &Arc<Text>| Text::split(t, 4, 1, None).unwrap().0;
    let (wa, wb) = (windows(&a), windows(&b));
    assert_eq!(
        wa.fingerprint().unwrap(),
        windows(&a).fingerprint().unwrap()
    );
    assert_ne!(wa.fingerprint().unwrap(), wb.fingerprint().unwrap());
}

/// The context and the stride are each at least 1.
#[test]
fn a_context_or_stride_of_0_is_refused() {
    let text = Arc::new(Text::from_text("abcdefgh").unwrap());
    for (context, stride) in [(0, 1), (3, 0), (0, 0)] {
        let e = Text::split(&text, context, stride, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least 1"), "{context} {stride}: {e}");
    }
    Text::split(&text, 3, 1, None).unwrap();
}

/// A run of windows is the batch of those windows (what evaluation walks).
#[test]
fn a_range_of_windows_is_the_batch_of_those_windows() {
    let text = Arc::new(Text::from_text("abcdefghijklmnop").unwrap());
    let (train, _) = Text::split(&text, 3, 1, None).unwrap();
    let (rx, ry) = train.range(2, 3).unwrap();
    let (bx, by) = train.batch(&[2, 3, 4]).unwrap();
    assert_eq!(rx.to_vec2::<i64>().unwrap(), bx.to_vec2::<i64>().unwrap());
    assert_eq!(ry.to_vec2::<f32>().unwrap(), by.to_vec2::<f32>().unwrap());
}
