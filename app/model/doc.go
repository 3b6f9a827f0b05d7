// Package model is Parley's domain vocabulary, typed: conversation Type, message Role,
// delivery Status with its forward-only rank, Money (nano-dollars) and its formatters, the one
// CSV formula guard, the WhatsApp window rule, and the decoded shapes of the JSON columns
// (assistant variables, pre-chat fields, widget settings, workspace settings).
//
// It owns rules that need no I/O. It may not touch SQL, HTTP, templates, Redis or any other
// Parley package: the store, feature services and web surfaces import it, never the reverse.
package model
