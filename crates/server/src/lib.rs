//! HTTP server for actlog that speaks Marketo's activity REST API.
