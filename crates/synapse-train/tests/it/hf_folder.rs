//! Hugging Face folders (SPEC section 12): what is refused, and how.
//!
//! The reference folders are `tests/data/gpt2/` (see its README.md).

use std::path::{Path, PathBuf};

use candle_core::Device;
use synapse_train::Model;

fn reference(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/gpt2")
        .join(name)
}

/// A copy of `tiny-random` in a fresh folder, changed by `edit`.
fn folder_with(edit: impl FnOnce(&Path)) -> (tempdir::Dir, PathBuf) {
    let tmp = tempdir::Dir::new();
    let dir = tmp.path().join("gpt2");
    std::fs::create_dir(&dir).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(reference("tiny-random").join(f), dir.join(f)).unwrap();
    }
    edit(&dir);
    (tmp, dir)
}

fn load_error(dir: &Path) -> String {
    Model::load(dir, None, &Device::Cpu)
        .unwrap_err()
        .to_string()
}

#[test]
fn another_model_type_a_pickle_and_a_missing_config_are_one_line_each() {
    let (_t, dir) = folder_with(|d| {
        let text = std::fs::read_to_string(d.join("config.json")).unwrap();
        std::fs::write(d.join("config.json"), text.replace("\"gpt2\"", "\"llama\"")).unwrap();
    });
    let e = load_error(&dir);
    assert!(
        e.contains("config.json") && e.contains("model_type `llama`"),
        "{e}"
    );

    let (_t, dir) = folder_with(|d| {
        std::fs::rename(d.join("model.safetensors"), d.join("pytorch_model.bin")).unwrap();
    });
    let e = load_error(&dir);
    assert!(
        e.contains("pytorch_model.bin") && e.contains("save_pretrained"),
        "{e}"
    );

    let (_t, dir) = folder_with(|d| std::fs::remove_file(d.join("config.json")).unwrap());
    let e = load_error(&dir);
    assert!(e.contains("has no config.json"), "{e}");

    let (_t, dir) = folder_with(|d| std::fs::remove_file(d.join("model.safetensors")).unwrap());
    let e = load_error(&dir);
    assert!(e.contains("has no model.safetensors"), "{e}");
    assert!(!e.contains('\n') && !e.contains("backtrace"), "{e}");
}

mod tempdir {
    //! A folder removed when dropped.
    pub struct Dir(std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "synapse-hf-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
