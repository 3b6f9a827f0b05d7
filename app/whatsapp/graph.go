package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultGraphURL is Meta's Graph API, versioned.
const DefaultGraphURL = "https://graph.facebook.com/v21.0"

// CodeWindowClosed is Meta's refusal of a free-form message outside the 24-hour window
// ("Re-engagement message"), given at once (HTTP 400) or later as a failed status.
const CodeWindowClosed = 131047

// rateLimitCodes are Meta's throttling errors, retried like a 429.
var rateLimitCodes = map[int]bool{4: true, 80007: true, 130429: true, 131048: true, 131056: true}

// Client sends messages through the Graph API.
type Client struct {
	BaseURL string       // PARLEY_WHATSAPP_GRAPH_URL, e.g. https://graph.facebook.com/v21.0
	HTTP    *http.Client // nil: a client with a 30 s timeout
	// URL, when set, gives the base URL at each call instead of BaseURL: the container points
	// it at the process's configuration, which it builds the one client from.
	URL func() string
}

// NewClient returns a client of the Graph API at baseURL (DefaultGraphURL when empty).
func NewClient(baseURL string) *Client {
	if baseURL == "" {
		baseURL = DefaultGraphURL
	}
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// APIError is an answer of the Graph API other than 200 (or a 200 without a message id).
type APIError struct {
	HTTPStatus int
	Code       int
	Subcode    int
	Type       string
	Message    string // Meta's message, e.g. "(#131047) Re-engagement message"
	Details    string // error_data.details
	FBTraceID  string
	// Body is the answer's body on one line (at most 200 characters) when it was not Meta's
	// error object (a proxy's page, a wrong PARLEY_WHATSAPP_GRAPH_URL).
	Body string

	meta bool
}

// Meta reports whether the answer was Meta's {"error":{...}} object.
func (e *APIError) Meta() bool { return e.meta }

func (e *APIError) Error() string {
	s := fmt.Sprintf("whatsapp graph api: HTTP %d", e.HTTPStatus)
	if e.Code != 0 {
		s += fmt.Sprintf(", code %d", e.Code)
	}
	if m := e.Text(); m != "" {
		s += ": " + m
	}
	return s
}

// Text is Meta's message and details, to show on the message that failed.
func (e *APIError) Text() string {
	switch {
	case e.Message != "" && e.Details != "":
		return e.Message + ": " + e.Details
	case e.Message != "":
		return e.Message
	default:
		return e.Details
	}
}

// Retryable reports an error worth retrying with backoff: 429, 5xx and Meta's throttling codes.
func (e *APIError) Retryable() bool {
	return e.HTTPStatus == http.StatusTooManyRequests || e.HTTPStatus >= 500 || rateLimitCodes[e.Code]
}

// WindowClosed reports Meta's refusal 131047.
func (e *APIError) WindowClosed() bool { return e.Code == CodeWindowClosed }

// NotSent reports whether err proves the request never reached Meta (so a retry cannot send
// twice): Meta answered with an error, or the connection could not be opened.
func NotSent(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.HTTPStatus != http.StatusOK
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// Template is an approved template message: its name, language code and the values of its
// body parameters {{1}}, {{2}}, ...
type Template struct {
	Name       string
	Language   string
	BodyParams []string
}

// SendText sends a free-form text message to the customer's wa_id and returns Meta's message
// id. callbackData (at most 512 characters) comes back on the message's statuses.
func (c *Client) SendText(ctx context.Context, phoneNumberID, token, to, body, callbackData string) (string, error) {
	msg := map[string]any{
		"messaging_product": "whatsapp",
		"recipient_type":    "individual",
		"to":                to,
		"type":              "text",
		"text":              map[string]any{"preview_url": false, "body": body},
	}
	if callbackData != "" {
		msg["biz_opaque_callback_data"] = callbackData
	}
	return c.send(ctx, phoneNumberID, token, msg)
}

// SendTemplate sends an approved template, which Meta accepts outside the 24-hour window.
func (c *Client) SendTemplate(ctx context.Context, phoneNumberID, token, to string, t Template, callbackData string) (string, error) {
	if t.Name == "" || t.Language == "" {
		return "", errors.New("whatsapp: a template needs a name and a language code")
	}
	tpl := map[string]any{"name": t.Name, "language": map[string]string{"code": t.Language}}
	if len(t.BodyParams) > 0 {
		params := make([]map[string]string, len(t.BodyParams))
		for i, p := range t.BodyParams {
			params[i] = map[string]string{"type": "text", "text": p}
		}
		tpl["components"] = []map[string]any{{"type": "body", "parameters": params}}
	}
	msg := map[string]any{
		"messaging_product": "whatsapp",
		"recipient_type":    "individual",
		"to":                to,
		"type":              "template",
		"template":          tpl,
	}
	if callbackData != "" {
		msg["biz_opaque_callback_data"] = callbackData
	}
	return c.send(ctx, phoneNumberID, token, msg)
}

// base is the Graph API's base URL without a trailing slash.
func (c *Client) base() string {
	base := c.BaseURL
	if c.URL != nil {
		base = c.URL()
	}
	if base == "" {
		base = DefaultGraphURL
	}
	return strings.TrimRight(base, "/")
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// get reads GET u with the token and decodes Meta's 200 answer into out (leniently: a body
// that is not the expected JSON leaves out as it was); any other status is an *APIError.
func (c *Client) get(ctx context.Context, u, token string, limit int64, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, limit))
	if res.StatusCode != http.StatusOK {
		return ParseError(res.StatusCode, raw)
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

// PhoneNumber is what Meta says of a business phone number.
type PhoneNumber struct {
	ID                 string `json:"id"` // the phone number id Meta answered for
	DisplayPhoneNumber string `json:"display_phone_number"`
	VerifiedName       string `json:"verified_name"`
}

// PhoneNumber reads GET {graph}/{phone_number_id}?fields=display_phone_number,verified_name:
// whether the token can see the number, and the number's name. An answer other than 200 is
// an *APIError; a 200 whose body is not the expected JSON gives an empty PhoneNumber.
func (c *Client) PhoneNumber(ctx context.Context, phoneNumberID, token string) (PhoneNumber, error) {
	var n PhoneNumber
	u := c.base() + "/" + url.PathEscape(phoneNumberID) + "?fields=display_phone_number,verified_name"
	err := c.get(ctx, u, token, 1<<20, &n)
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	if errors.As(err, &se) || errors.As(err, &te) {
		return PhoneNumber{}, nil
	}
	return n, err
}

func (c *Client) send(ctx context.Context, phoneNumberID, token string, msg any) (string, error) {
	if phoneNumberID == "" || token == "" {
		return "", errors.New("whatsapp: the assistant has no WhatsApp phone number id or access token")
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return "", err
	}
	u := c.base() + "/" + url.PathEscape(phoneNumberID) + "/messages"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := c.http().Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		if res.StatusCode != http.StatusOK {
			return "", &APIError{HTTPStatus: res.StatusCode, Message: http.StatusText(res.StatusCode)}
		}
		return "", err // accepted or not: unknown
	}
	if res.StatusCode != http.StatusOK {
		return "", ParseError(res.StatusCode, raw)
	}
	var ok struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(raw, &ok); err != nil || len(ok.Messages) == 0 || ok.Messages[0].ID == "" {
		return "", &APIError{HTTPStatus: res.StatusCode, Message: "Meta answered 200 without a message id: " + snippet(raw)}
	}
	return ok.Messages[0].ID, nil
}

// ParseError reads an answer of the Graph API other than 200: Meta's
// {"error":{"message","type","code","error_subcode","error_data","fbtrace_id"}}, or whatever
// else came back (then Message is the status text and the body's beginning). It is the one
// parser of Graph errors: sends, phone number lookups (doctor) and template calls use it.
func ParseError(status int, raw []byte) *APIError {
	var body struct {
		Error struct {
			Message      string `json:"message"`
			Type         string `json:"type"`
			Code         int    `json:"code"`
			ErrorSubcode int    `json:"error_subcode"`
			ErrorData    struct {
				Details string `json:"details"`
			} `json:"error_data"`
			FBTraceID string `json:"fbtrace_id"`
		} `json:"error"`
	}
	e := &APIError{HTTPStatus: status}
	if json.Unmarshal(raw, &body) == nil && (body.Error.Message != "" || body.Error.Code != 0) {
		e.Code, e.Subcode, e.Type = body.Error.Code, body.Error.ErrorSubcode, body.Error.Type
		e.Message, e.Details, e.FBTraceID = body.Error.Message, body.Error.ErrorData.Details, body.Error.FBTraceID
		e.meta = true
		return e
	}
	e.Message = http.StatusText(status)
	e.Body = snippet(raw)
	if s := e.Body; s != "" {
		e.Message += ": " + s
	}
	return e
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200])
	}
	return strings.ToValidUTF8(s, "")
}
