//! Integration tests of the control plane: the handlers driven through their public entry
//! points (`iot::handle`, `iam::handle`, `sts::handle`) against a real registry (SQLite in a
//! temporary directory), as an authenticated principal.

mod authz;
mod fixture;
