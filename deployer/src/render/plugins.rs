//! `generators:` and `transformers:` entries: configs of kustomize's builtin plugins
//! (`apiVersion: builtin`). Exec/Go plugins and KRM functions are refused.

use super::RenderError;
use super::target::{Accumulator, Target};
use super::value::Value;

fn unsupported(t: &Target, field: &str, cfg: &Value) -> RenderError {
    RenderError::Unsupported {
        file: t.k.file.clone(),
        field: format!(
            "{field}: plugin {}/{}",
            cfg.str_at(&["apiVersion"]).unwrap_or("?"),
            cfg.str_at(&["kind"]).unwrap_or("?")
        ),
    }
}

pub fn generate(t: &Target, acc: &mut Accumulator, cfg: &Value) -> Result<(), RenderError> {
    let _ = acc;
    Err(unsupported(t, "generators", cfg))
}

pub fn transform(t: &Target, acc: &mut Accumulator, cfg: &Value) -> Result<(), RenderError> {
    let _ = acc;
    Err(unsupported(t, "transformers", cfg))
}
