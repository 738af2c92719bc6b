//! `vars:` (deprecated in kustomize but still honoured): `$(NAME)` references in the
//! varReference fields are replaced by a field of a named object.

use super::fieldspec::FieldSpec;
use super::resource::Resource;
use super::value::Value;

pub fn resolve(
    resources: &mut [Resource],
    vars: &[Value],
    specs: &[FieldSpec],
) -> Result<(), String> {
    let _ = (resources, specs);
    Err(format!(
        "unsupported field `vars` ({} declared)",
        vars.len()
    ))
}
