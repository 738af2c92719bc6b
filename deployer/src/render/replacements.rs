//! `replacements:`: copy a value from a source field into target fields.

use super::RenderError;
use super::resource::Resource;
use super::target::Target;
use super::value::Value;

pub fn run(t: &Target, resources: &mut [Resource], specs: &[Value]) -> Result<(), RenderError> {
    let _ = (resources, specs);
    Err(RenderError::Unsupported {
        file: t.k.file.clone(),
        field: "replacements".into(),
    })
}
