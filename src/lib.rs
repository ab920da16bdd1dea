//! Enroll: a multi-tenant customer-registration service speaking the Cleeng MediaStore API.

pub mod app;
pub mod auth;
pub mod captcha;
pub mod catalog;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod geo;
pub mod http;
pub mod limits;
pub mod mail;
pub mod outbound;
pub mod service;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod upstream;

pub use app::Application;
pub use config::Settings;
