//! STUB
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct InitError {
    pub code: i32,
    pub message: String,
}
