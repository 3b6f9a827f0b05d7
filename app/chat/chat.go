// Package chat produces an assistant's reply to a conversation: it builds the context from
// the stored messages, asks the LLM (streaming when asked), stores the reply together with its
// usage-ledger row, and falls back to a polite message when the provider fails. Test Chat,
// the web widget and WhatsApp all reply through it; ReplyOnce (a Redis lock, waiters woken by
// the event bus) keeps concurrent requests for one reply to one LLM call.
//
// It may use app/store, app/llm, app/usage, app/events and app/conversation; it never imports
// app/web, views or workers.
package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/usage"
	"github.com/parleyhq/parley/app/workspace"
)

// Responder answers conversations.
type Responder struct {
	Store         *store.Store
	LLM           llm.Provider
	Prices        *usage.Table
	Conversations *conversation.Service
	Log           *slog.Logger
	// Meter counts the LLM calls, tokens and cost (app/metrics); nil counts nothing.
	Meter usage.Meter
	// History is how many recent messages go into the context (default 40).
	History int
	// Redis holds ReplyOnce's locks; nil: no lock (the ledger still stores one reply).
	Redis redis.UniversalClient
	// Events wakes ReplyOnce's waiters when a reply is stored; nil: they look every 300 ms.
	Events *events.Bus
	// WaitRecheck is how often a waiter looks without an event (default 15 s with Events).
	WaitRecheck time.Duration
}

// Reply is the outcome of one reply.
type Reply struct {
	Message *store.Message
	// Failed is true when the provider failed and the message is the fallback text.
	Failed bool
	// Warning is "no price for model X" when the model has no price.
	Warning string
	// Replayed is true when requestID was answered before: nothing was asked or stored again.
	Replayed bool
}

// RequestID is the idempotency key of the reply to a user message.
func RequestID(conversationID, userMessageID int64) string {
	return fmt.Sprintf("reply:%d:%d", conversationID, userMessageID)
}

// Variables are an assistant's variable definitions as the LLM request lists them.
func Variables(a *store.Assistant) []llm.VariableSpec {
	var out []llm.VariableSpec
	for _, v := range a.Variables {
		out = append(out, llm.VariableSpec(v))
	}
	return out
}

// Request builds the LLM request for a conversation: the system prompt, what the assistant
// must collect and what it has, and the recent messages.
func (r *Responder) Request(ctx context.Context, conv *store.Conversation, a *store.Assistant) (llm.Request, error) {
	n := r.History
	if n <= 0 {
		n = 40
	}
	page, err := r.Store.Messages(ctx, conv.WorkspaceID, conv.ID, "", n)
	if err != nil {
		return llm.Request{}, err
	}
	return BuildRequest(a, conv.VariableMap(), page.Messages), nil
}

// BuildRequest is the one rule for what an assistant is asked when it answers: its system
// prompt, what it must collect and what it has (collected), then the messages given, oldest
// first. Live replies (Request) and replays (app/replay, which hands it the transcript up to
// the turn being regenerated) both build their request here, so a replay is asked what the
// customer's conversation would have asked.
func BuildRequest(a *store.Assistant, collected map[string]string, msgs []store.Message) llm.Request {
	vars := Variables(a)
	req := llm.Request{
		Model: a.Model, FirstMessage: a.FirstMessage, Variables: vars, Collected: collected,
	}
	if a.Temperature > 0 {
		t := a.Temperature
		req.Temperature = &t
	}
	var sys strings.Builder
	sys.WriteString(strings.TrimSpace(a.SystemPrompt))
	if len(vars) > 0 {
		sys.WriteString("\n\nCollect these details from the customer, politely and one or two at a time:\n")
		for _, v := range vars {
			state := "missing"
			if val, ok := collected[v.Name]; ok && val != "" {
				state = "already known: " + val
			}
			req := ""
			if v.Required {
				req = " (required)"
			}
			fmt.Fprintf(&sys, "- %s%s: %s [%s]\n", v.Name, req, v.Description, state)
		}
	}
	if s := strings.TrimSpace(sys.String()); s != "" {
		req.Messages = append(req.Messages, llm.Message{Role: llm.RoleSystem, Content: s})
	}
	for _, m := range msgs {
		switch m.Role {
		case "user":
			req.Messages = append(req.Messages, llm.Message{Role: llm.RoleUser, Content: conversation.CustomerText(m)})
		case "assistant", "human":
			if conversation.IsFallback(m) { // our fallback text is not something the assistant said
				continue
			}
			req.Messages = append(req.Messages, llm.Message{Role: llm.RoleAssistant, Content: m.Content})
		}
	}
	return req
}

// Reply answers the conversation once per requestID. onDelta, when not nil, receives the reply
// piece by piece as the provider streams it. A provider failure stores the polite fallback
// message (with the error kept on the message and the conversation) and returns it with
// Failed set and a nil error: the customer sees the fallback, never the error.
func (r *Responder) Reply(ctx context.Context, conv *store.Conversation, a *store.Assistant, requestID string, onDelta func(string) error) (Reply, error) {
	return r.reply(ctx, conv, a, requestID, 0, onDelta)
}

// reply is Reply; answers, when not 0, is the customer message the reply answers: its
// stored reply (or fallback) ends the intent to answer it in the same transaction.
func (r *Responder) reply(ctx context.Context, conv *store.Conversation, a *store.Assistant, requestID string, answers int64, onDelta func(string) error) (Reply, error) {
	if prev, err := r.Store.UsageByRequestID(ctx, conv.WorkspaceID, requestID); err == nil && prev.MessageID != nil {
		m, err := r.Store.MessageByID(ctx, conv.WorkspaceID, *prev.MessageID)
		if err == nil {
			return Reply{Message: m, Replayed: true}, nil
		}
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Reply{}, err
	}
	a, err := r.Store.AnsweringAssistant(ctx, conv, a) // a Test Chat: its version; a channel: the published row
	if err != nil {
		return Reply{}, err
	}
	req, err := r.Request(ctx, conv, a)
	if err != nil {
		return Reply{}, err
	}
	req.RequestID = requestID
	var resp llm.Response
	if onDelta != nil {
		resp, err = r.LLM.Stream(ctx, req, onDelta)
	} else {
		resp, err = r.LLM.Complete(ctx, req)
	}
	if err != nil {
		if ctx.Err() != nil {
			return Reply{}, ctx.Err()
		}
		if r.Meter != nil {
			r.Meter.LLMError(usage.PurposeReply, req.Model)
		}
		return r.fallback(ctx, conv, a, answers, err)
	}
	aid := conv.AssistantID
	cid := conv.ID
	m := &store.Message{WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, Role: "assistant", Content: resp.Content, Answers: answers,
		AssistantVersion: a.VersionPtr()}
	prices := workspace.PricesOf(ctx, r.Store, r.Prices, conv.WorkspaceID, r.Log)
	rec, err := r.Conversations.AddReply(ctx, prices, usage.Call{
		WorkspaceID: conv.WorkspaceID, ConversationID: &cid, AssistantID: aid, ConversationType: conv.Type,
		RequestID: requestID, Purpose: usage.PurposeReply, Model: resp.Model,
		Tokens: usage.Tokens{Prompt: resp.Usage.PromptTokens, Cached: resp.Usage.CachedTokens, Completion: resp.Usage.CompletionTokens},
		Meter:  r.Meter,
	}, m)
	if err != nil {
		return Reply{}, err
	}
	out := Reply{Message: m, Warning: rec.Warning(), Replayed: !rec.Inserted}
	if !rec.Inserted {
		if stored, err := r.Store.MessageByID(ctx, conv.WorkspaceID, m.ID); err == nil {
			out.Message = stored
		}
	}
	switch {
	case out.Warning != "":
		_ = r.Store.SetConversationError(ctx, conv.WorkspaceID, conv.ID, out.Warning+": cost recorded as 0; add a price in Settings")
	case conv.LastError != "":
		_ = r.Store.SetConversationError(ctx, conv.WorkspaceID, conv.ID, "")
	}
	return out, nil
}

func (r *Responder) fallback(ctx context.Context, conv *store.Conversation, a *store.Assistant, answers int64, cause error) (Reply, error) {
	msg := safeError(cause)
	r.Log.WarnContext(ctx, "llm reply failed", "conversation_id", conv.ID, "err", cause)
	m := &store.Message{WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, Role: "assistant", Content: llm.FallbackReply, Error: msg, Answers: answers,
		AssistantVersion: a.VersionPtr()}
	if _, err := r.Conversations.AddMessage(ctx, m); err != nil {
		return Reply{}, err
	}
	_ = r.Store.SetConversationError(ctx, conv.WorkspaceID, conv.ID, "The assistant could not answer: "+msg)
	return Reply{Message: m, Failed: true}, nil
}

// safeError is what may be shown to the business (never to the customer): the provider's
// status and short message, never a stack trace or a key.
func safeError(err error) string {
	var le *llm.Error
	if errors.As(err, &le) {
		return le.Error()
	}
	return "the language model did not answer"
}
