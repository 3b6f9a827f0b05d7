package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"

	"github.com/parleyhq/parley/config"
)

// DefaultMaxRetries is how many times a call is retried after a 408, 409, 429, 5xx or a
// network error, with exponential backoff (0.5s, 1s, ... up to 8s, with jitter) or the wait the
// server asks for in Retry-After / Retry-After-Ms.
const DefaultMaxRetries = 2

// OpenAIOptions configure the OpenAI-compatible provider.
type OpenAIOptions struct {
	BaseURL      string        // the API base, e.g. https://api.openai.com/v1 or http://localhost:11434/v1
	APIKey       string        // sent as a bearer token; never logged or put in an error
	DefaultModel string        // for requests that name no model
	Timeout      time.Duration // for one call, retries and waits included; 0 means config.DefaultLLMTimeout
	MaxRetries   int           // retries after the first attempt; negative means none
	HTTPClient   *http.Client  // nil: a client of its own (no client-level timeout: Timeout rules)
	// MaxCompletionTokensField sends Request.MaxTokens as max_completion_tokens (what OpenAI's
	// reasoning models require) instead of max_tokens (what every compatible server knows).
	// NewOpenAI sets it when BaseURL is OpenAI's.
	MaxCompletionTokensField bool
}

// OpenAI is the provider for OpenAI-compatible chat-completions APIs.
type OpenAI struct {
	client  openai.Client
	opts    OpenAIOptions
	name    string
	host    string
	timeout time.Duration
}

// NewOpenAI returns a provider for the API at opts.BaseURL.
func NewOpenAI(opts OpenAIOptions) (*OpenAI, error) {
	if opts.BaseURL == "" {
		opts.BaseURL = config.DefaultLLMBaseURL
	}
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &config.Error{Var: "PARLEY_LLM_BASE_URL", Msg: fmt.Sprintf("%q is not an http(s) URL", opts.BaseURL)}
	}
	if opts.DefaultModel == "" {
		opts.DefaultModel = config.DefaultLLMModel
	}
	if opts.Timeout <= 0 {
		opts.Timeout = config.DefaultLLMTimeout
	}
	if opts.MaxRetries < 0 {
		opts.MaxRetries = 0
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if strings.EqualFold(u.Hostname(), "api.openai.com") {
		opts.MaxCompletionTokensField = true
	}
	p := &OpenAI{opts: opts, host: u.Host, timeout: opts.Timeout}
	if strings.EqualFold(u.Hostname(), "api.openai.com") {
		p.name = "OpenAI (api.openai.com)"
	} else {
		p.name = "OpenAI-compatible (" + u.Host + ")"
	}
	p.client = openai.NewClient(
		option.WithBaseURL(strings.TrimRight(opts.BaseURL, "/")+"/"),
		option.WithAPIKey(opts.APIKey),
		option.WithHTTPClient(opts.HTTPClient),
		option.WithMaxRetries(opts.MaxRetries),
		// A server asking to wait longer than the whole call may take gets its error back at
		// once (retryable), instead of a wait that ends in a timeout.
		option.WithMaxRetryDelay(opts.Timeout),
	)
	return p, nil
}

// Name implements Provider.
func (p *OpenAI) Name() string { return p.name }

// Offline implements Provider.
func (p *OpenAI) Offline() bool { return false }

// Complete implements Provider.
func (p *OpenAI) Complete(ctx context.Context, req Request) (Response, error) {
	params, reqOpts, err := p.params(req)
	if err != nil {
		return Response{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var httpRes *http.Response
	reqOpts = append(reqOpts, option.WithResponseInto(&httpRes))
	cc, err := p.client.Chat.Completions.New(cctx, params, reqOpts...)
	viaTool := false
	if err != nil && req.JSONSchema != nil && req.ToolFallback && refusesResponseFormat(err) {
		// The server has no structured output: ask for the same schema as a function call.
		params = asToolCall(params, req.JSONSchema)
		viaTool = true
		httpRes = nil
		cc, err = p.client.Chat.Completions.New(cctx, params, reqOpts...)
	}
	if err != nil {
		return Response{}, p.wrap(ctx, cctx, httpRes, err)
	}
	if cc == nil || len(cc.Choices) == 0 {
		return Response{}, p.malformed(httpRes, "the response has no choices", nil)
	}
	content := cc.Choices[0].Message.Content
	if viaTool {
		content = ""
		for _, tc := range cc.Choices[0].Message.ToolCalls {
			if tc.Function.Name == req.JSONSchema.Name {
				content = tc.Function.Arguments
				break
			}
		}
	}
	if content == "" && cc.Choices[0].Message.Refusal != "" {
		content = cc.Choices[0].Message.Refusal
	}
	resp := Response{Content: content, Model: cc.Model, ProviderRequestID: cc.ID, ViaTool: viaTool}
	if resp.Model == "" {
		resp.Model = string(params.Model)
	}
	if resp.ProviderRequestID == "" && httpRes != nil {
		resp.ProviderRequestID = httpRes.Header.Get("X-Request-Id")
	}
	if cc.JSON.Usage.Valid() {
		resp.Usage = usageOf(cc.Usage)
	} else {
		resp.Usage = estimate(string(params.Model), req.Messages, content)
	}
	return resp, nil
}

// Stream implements Provider. It asks for usage (stream_options.include_usage) and takes it
// from whichever chunk carries it: OpenAI sends it in a last chunk whose choices are empty,
// other servers with "choices": null or on the chunk that finishes the reply. Content is
// accumulated from the deltas of choice 0.
func (p *OpenAI) Stream(ctx context.Context, req Request, onDelta func(string) error) (Response, error) {
	params, reqOpts, err := p.params(req)
	if err != nil {
		return Response{}, err
	}
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var httpRes *http.Response
	reqOpts = append(reqOpts, option.WithResponseInto(&httpRes))
	stream := p.client.Chat.Completions.NewStreaming(cctx, params, reqOpts...)
	defer stream.Close()

	var (
		b        strings.Builder
		resp     Response
		gotUsage bool
		chunks   int
	)
	for stream.Next() {
		ch := stream.Current()
		chunks++
		if resp.ProviderRequestID == "" {
			resp.ProviderRequestID = ch.ID
		}
		if ch.Model != "" {
			resp.Model = ch.Model
		}
		if ch.JSON.Usage.Valid() {
			resp.Usage = usageOf(ch.Usage)
			gotUsage = true
		}
		for _, c := range ch.Choices {
			if c.Index != 0 || c.Delta.Content == "" {
				continue
			}
			b.WriteString(c.Delta.Content)
			if err := onDelta(c.Delta.Content); err != nil {
				resp.Content = b.String()
				return p.finish(resp, gotUsage, params, req, b.String()), err
			}
		}
	}
	resp = p.finish(resp, gotUsage, params, req, b.String())
	if err := stream.Err(); err != nil {
		return resp, p.wrapStream(ctx, cctx, httpRes, err)
	}
	if chunks == 0 {
		if ct := contentType(httpRes); ct != "text/event-stream" {
			return resp, p.malformed(httpRes, fmt.Sprintf("a streamed request was answered with %q, not an event stream", ct), nil)
		}
		return resp, p.malformed(httpRes, "the event stream carried no chunks", nil)
	}
	return resp, nil
}

func (p *OpenAI) finish(resp Response, gotUsage bool, params openai.ChatCompletionNewParams, req Request, content string) Response {
	resp.Content = content
	if resp.Model == "" {
		resp.Model = string(params.Model)
	}
	if !gotUsage {
		resp.Usage = estimate(string(params.Model), req.Messages, content)
	}
	return resp
}

func contentType(res *http.Response) string {
	if res == nil {
		return ""
	}
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	return mt
}

func usageOf(u openai.CompletionUsage) Usage {
	out := Usage{
		PromptTokens:     int(u.PromptTokens),
		CachedTokens:     int(u.PromptTokensDetails.CachedTokens),
		CompletionTokens: int(u.CompletionTokens),
	}
	if out.CachedTokens > out.PromptTokens {
		out.CachedTokens = out.PromptTokens
	}
	return out
}

// estimate counts tokens locally for servers that report no usage, so that a call is never
// recorded as free by accident.
func estimate(model string, msgs []Message, content string) Usage {
	return Usage{PromptTokens: CountMessages(model, msgs), CompletionTokens: CountText(model, content), Estimated: true}
}

func (p *OpenAI) params(req Request) (openai.ChatCompletionNewParams, []option.RequestOption, error) {
	model := strings.TrimSpace(req.Model)
	if model == "" {
		model = p.opts.DefaultModel
	}
	params := openai.ChatCompletionNewParams{Model: shared.ChatModel(model)}
	if len(req.Messages) == 0 {
		return params, nil, &Error{Provider: p.name, Message: "the request has no messages"}
	}
	for _, m := range req.Messages {
		role, ok := normalizeRole(m.Role)
		if !ok {
			return params, nil, &Error{Provider: p.name, Message: fmt.Sprintf("unsupported message role %q", truncate(m.Role, 20))}
		}
		switch role {
		case RoleSystem:
			params.Messages = append(params.Messages, openai.SystemMessage(m.Content))
		case RoleDeveloper:
			params.Messages = append(params.Messages, openai.DeveloperMessage(m.Content))
		case RoleUser:
			params.Messages = append(params.Messages, openai.UserMessage(m.Content))
		case RoleAssistant:
			params.Messages = append(params.Messages, openai.AssistantMessage(m.Content))
		}
	}
	if req.Temperature != nil {
		params.Temperature = openai.Float(*req.Temperature)
	}
	if req.MaxTokens > 0 {
		if p.opts.MaxCompletionTokensField {
			params.MaxCompletionTokens = openai.Int(int64(req.MaxTokens))
		} else {
			params.MaxTokens = openai.Int(int64(req.MaxTokens))
		}
	}
	if s := req.JSONSchema; s != nil {
		js := shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: s.Name, Schema: s.Schema}
		if s.Strict {
			js.Strict = openai.Bool(true)
		}
		if s.Description != "" {
			js.Description = openai.String(s.Description)
		}
		params.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{
			OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{JSONSchema: js},
		}
	}
	var opts []option.RequestOption
	if id := req.RequestID; id != "" && len(id) <= 512 && isPrintableASCII(id) {
		opts = append(opts, option.WithHeader("X-Client-Request-Id", id))
	}
	return params, opts, nil
}

// refusesResponseFormat reports whether err is a server's refusal of structured output: an
// HTTP 400 whose error names the response_format parameter.
func refusesResponseFormat(err error) bool {
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
		return false
	}
	return apiErr.Param == "response_format" || strings.Contains(apiErr.Message, "response_format")
}

// asToolCall turns a structured-output request into a tool-calling one: the schema becomes
// the parameters of one function, which tool_choice makes the model call.
func asToolCall(params openai.ChatCompletionNewParams, s *JSONSchema) openai.ChatCompletionNewParams {
	params.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{}
	fn := shared.FunctionDefinitionParam{Name: s.Name, Parameters: shared.FunctionParameters(s.Schema)}
	if s.Strict {
		fn.Strict = openai.Bool(true)
	}
	if s.Description != "" {
		fn.Description = openai.String(s.Description)
	}
	params.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(fn)}
	params.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{
		OfFunctionToolChoice: &openai.ChatCompletionNamedToolChoiceParam{Function: openai.ChatCompletionNamedToolChoiceFunctionParam{Name: s.Name}},
	}
	return params
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// wrap turns an error of the client into an *Error: ctx is the caller's context, cctx the
// call's (with the timeout), res the last HTTP response when there was one.
func (p *OpenAI) wrap(ctx, cctx context.Context, res *http.Response, err error) error {
	if ctx.Err() != nil {
		return &Error{Provider: p.name, Message: "the request was canceled", err: ctx.Err()}
	}
	if cctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Provider: p.name, Retryable: true, Timeout: true, err: context.DeadlineExceeded,
			Message: fmt.Sprintf("%s did not answer within %s", p.host, p.timeout)}
	}
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		return p.statusError(apiErr.StatusCode, apiErr.Message, err)
	}
	if res != nil && res.StatusCode >= 400 { // an error body that is not the usual JSON
		return p.statusError(res.StatusCode, "", err)
	}
	if res != nil && res.StatusCode < 300 {
		return p.malformed(res, "", err)
	}
	var netErr net.Error
	var urlErr *url.Error
	if errors.As(err, &netErr) || errors.As(err, &urlErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		cause := err
		if urlErr != nil && urlErr.Err != nil {
			cause = urlErr.Err
		}
		return &Error{Provider: p.name, Retryable: true, err: err,
			Message: fmt.Sprintf("could not reach %s: %s", p.host, p.scrub(truncate(cause.Error(), 160)))}
	}
	return &Error{Provider: p.name, err: err, Message: "the request failed: " + p.scrub(truncate(err.Error(), 160))}
}

// wrapStream classifies an error met while reading a stream.
func (p *OpenAI) wrapStream(ctx, cctx context.Context, res *http.Response, err error) error {
	var se *ssestream.StreamError
	if errors.As(err, &se) {
		msg := strings.TrimPrefix(se.Message, "received error while streaming: ")
		var body struct {
			Message string `json:"message"`
		}
		if json.Unmarshal([]byte(msg), &body) == nil && body.Message != "" {
			msg = body.Message
		}
		return &Error{Provider: p.name, Retryable: true, err: err,
			Message: "the server reported an error during the reply: " + p.scrub(truncate(msg, 200))}
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &typ) {
		if ctx.Err() == nil && cctx.Err() == nil {
			return p.malformed(res, "a streamed chunk is not valid JSON", err)
		}
	}
	if res != nil && res.StatusCode < 300 && ctx.Err() == nil && cctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
		// The stream started, then the connection broke.
		return &Error{Provider: p.name, StatusCode: res.StatusCode, Retryable: true, err: err,
			Message: fmt.Sprintf("the connection to %s broke during the reply", p.host)}
	}
	return p.wrap(ctx, cctx, res, err)
}

func (p *OpenAI) statusError(status int, providerMsg string, err error) error {
	e := &Error{Provider: p.name, StatusCode: status, err: err,
		Retryable: status == http.StatusRequestTimeout || status == http.StatusConflict ||
			status == http.StatusTooManyRequests || status >= 500}
	detail := ""
	if m := strings.TrimSpace(providerMsg); m != "" {
		detail = ": " + p.scrub(truncate(m, 200))
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		// The provider's message may quote part of the key: leave it out.
		e.Message = fmt.Sprintf("%s refused the API key (HTTP %d); check PARLEY_LLM_API_KEY", p.host, status)
	case status == http.StatusTooManyRequests:
		e.Message = fmt.Sprintf("%s is rate limiting requests (HTTP 429)%s", p.host, detail)
	case status == http.StatusNotFound:
		e.Message = fmt.Sprintf("%s answered not found (HTTP 404); check the model name and PARLEY_LLM_BASE_URL%s", p.host, detail)
	case status >= 500:
		e.Message = fmt.Sprintf("%s failed (HTTP %d)%s", p.host, status, detail)
	default:
		e.Message = fmt.Sprintf("%s rejected the request (HTTP %d)%s", p.host, status, detail)
	}
	return e
}

func (p *OpenAI) malformed(res *http.Response, what string, err error) error {
	if what == "" {
		what = "the response is not valid chat-completions JSON"
	}
	e := &Error{Provider: p.name, err: err, Message: fmt.Sprintf("%s sent a malformed response: %s", p.host, what)}
	if res != nil {
		e.StatusCode = res.StatusCode
	}
	return e
}

// scrub removes the API key from a message, in case a server echoes it.
func (p *OpenAI) scrub(s string) string {
	if k := p.opts.APIKey; len(k) >= 4 {
		s = strings.ReplaceAll(s, k, "[redacted]")
	}
	return s
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
