// Package llm is Parley's one interface to chat-completion models, used by replies and by
// variable extraction.
//
// Two providers implement it:
//
//   - OpenAI: any OpenAI-compatible chat-completions API (OpenAI, Ollama, vLLM, llama.cpp
//     servers) through the official client github.com/openai/openai-go/v3, with a timeout per
//     call, retries with backoff on 429 and 5xx, and errors of type *Error that say whether a
//     retry may help.
//   - Offline: a built-in, deterministic provider used when PARLEY_LLM_API_KEY is empty. It
//     greets with the assistant's first message (Request.FirstMessage), asks for the required
//     variables still missing (Request.Variables and Request.Collected), extracts them again
//     when asked for structured output, and reports token counts computed with tiktoken.
//
// New picks one from the configuration.
//
// It is an adapter: it knows no conversation, store or price; app/chat, app/extract and
// app/usage decide what to ask and what an answer costs.
package llm

import (
	"context"
	"errors"
	"strings"

	"github.com/parleyhq/parley/config"
)

// Message roles understood by every provider. The store's "human" (a person of the team
// answering in the conversation) and "agent" are sent to the model as assistant messages.
const (
	RoleSystem    = "system"
	RoleDeveloper = "developer"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// JSONSchema asks for structured output: the reply is a JSON document following Schema
// (response_format {"type":"json_schema"} on the wire).
type JSONSchema struct {
	Name        string         // a-z, A-Z, 0-9, _ and -, at most 64 characters
	Description string         // optional
	Schema      map[string]any // a JSON Schema object
	Strict      bool           // strict schema adherence (OpenAI's structured outputs)
}

// VariableSpec is one variable an assistant must collect. Its JSON form is the one stored on
// the assistant (`[{"name","description","type","required","options"}]`), so the stored list
// can be decoded into []VariableSpec directly.
type VariableSpec struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Type        string   `json:"type,omitempty"` // text (default), email, phone, number, date, boolean, enum
	Required    bool     `json:"required,omitempty"`
	Options     []string `json:"options,omitempty"` // for enum
}

// Request is one chat completion.
type Request struct {
	// Model is the model to ask; empty means the provider's default (PARLEY_LLM_MODEL).
	Model    string
	Messages []Message
	// Temperature is sent only when set (some reasoning models refuse it).
	Temperature *float64
	// MaxTokens bounds the completion; 0 leaves it to the server.
	MaxTokens int
	// JSONSchema, when set, asks for structured output.
	JSONSchema *JSONSchema
	// ToolFallback, with JSONSchema, asks again by tool calling when the server refuses
	// structured output (an HTTP 400 naming response_format): one function named after the
	// schema whose parameters are the schema, which the model is made to call; the reply's
	// Content is then the call's arguments (the same JSON document). Response.ViaTool says so.
	ToolFallback bool
	// RequestID identifies the call for idempotency (the usage ledger's request_id). It is
	// sent to OpenAI-compatible servers as the X-Client-Request-Id header.
	RequestID string

	// The assistant's context. Real models read the system prompt in Messages; the offline
	// provider reads these fields instead, so callers should always fill them.
	FirstMessage string            // the assistant's first message (greeting)
	Variables    []VariableSpec    // the variables the assistant must collect
	Collected    map[string]string // the values collected so far, by variable name
}

// Usage is the token count of one call.
type Usage struct {
	PromptTokens     int // all input tokens, cached ones included
	CachedTokens     int // input tokens served from the provider's prompt cache (a part of PromptTokens)
	CompletionTokens int
	// Estimated is true when the server reported no usage and the counts were computed
	// locally with tiktoken.
	Estimated bool
}

// Response is the result of one call.
type Response struct {
	Content string
	Usage   Usage
	// Model is the model that answered, as the server names it (for example a dated snapshot
	// such as gpt-4o-mini-2024-07-18), or OfflineModel for the offline provider. Price it.
	Model string
	// ProviderRequestID is the server's id of the completion (chatcmpl-...), or its
	// x-request-id header when the body carries none.
	ProviderRequestID string
	// ViaTool: the structured output came by tool calling (Request.ToolFallback).
	ViaTool bool
}

// Provider is a chat-completion backend. Implementations are safe for concurrent use.
type Provider interface {
	// Name is shown in the UI, for example "offline (built-in)".
	Name() string
	// Offline reports whether this is the built-in offline provider.
	Offline() bool
	// Complete returns the whole reply at once.
	Complete(ctx context.Context, req Request) (Response, error)
	// Stream calls onDelta with each piece of the reply as it arrives, then returns the whole
	// reply with its usage. An error returned by onDelta stops the stream and is returned as
	// is, together with what was received so far; so is a provider failure after the first
	// delta (as an *Error).
	Stream(ctx context.Context, req Request, onDelta func(delta string) error) (Response, error)
}

// FallbackReply is a polite message to show a customer when the provider failed. Never show
// them the error itself.
const FallbackReply = "Sorry, I can't answer right now. Please try again in a moment."

// New returns the provider the configuration asks for: the offline provider when
// PARLEY_LLM_API_KEY is empty, otherwise the OpenAI-compatible API at PARLEY_LLM_BASE_URL.
func New(cfg *config.Config) (Provider, error) {
	if cfg.OfflineLLM() {
		return NewOffline(OfflineOptions{DefaultModel: cfg.LLMModel, WordDelay: DefaultWordDelay}), nil
	}
	p, err := NewOpenAI(OpenAIOptions{
		BaseURL:      cfg.LLMBaseURL,
		APIKey:       cfg.LLMAPIKey,
		DefaultModel: cfg.LLMModel,
		Timeout:      cfg.LLMTimeout,
		MaxRetries:   DefaultMaxRetries,
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Error is a failed call. Its message is short and safe to store on a conversation and show
// to the team: it never holds the API key, a stack trace or the request body.
type Error struct {
	Provider   string // the provider's Name
	StatusCode int    // the HTTP status, 0 when there was no HTTP answer
	Retryable  bool   // whether the same call may succeed later (429, 5xx, timeouts, network)
	Timeout    bool   // the call took longer than its timeout
	Message    string // short and safe
	err        error
}

func (e *Error) Error() string { return "llm: " + e.Message }

// Unwrap returns the underlying error (context.Canceled, a network error, ...).
func (e *Error) Unwrap() error { return e.err }

// IsRetryable reports whether err is an *Error worth retrying.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// normalizeRole maps the store's roles to the chat-completions ones.
func normalizeRole(role string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(role)) {
	case RoleSystem:
		return RoleSystem, true
	case RoleDeveloper:
		return RoleDeveloper, true
	case RoleUser:
		return RoleUser, true
	case RoleAssistant, "human", "agent":
		return RoleAssistant, true
	}
	return "", false
}
