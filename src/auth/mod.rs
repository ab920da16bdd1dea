//! Passwords, customer JWTs and opaque tokens.

pub mod admin_key;
pub mod firebase;
pub mod jwt;
pub mod legacy;
pub mod password;
pub mod tokens;

pub use jwt::{Claims, Keys, TokenError};
pub use password::{HashError, HashParams, Hasher, Verified};
