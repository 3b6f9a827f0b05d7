package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// ---- LLM ----

func (d *doctor) llm(ctx context.Context) {
	c := d.cfg
	if c.OfflineLLM() {
		d.add("llm", OK, "offline provider (PARLEY_LLM_API_KEY is not set): replies are canned, no network needed", "")
		return
	}
	client := openai.NewClient(
		option.WithBaseURL(strings.TrimRight(c.LLMBaseURL, "/")+"/"),
		option.WithAPIKey(c.LLMAPIKey),
		option.WithHTTPClient(d.o.HTTP),
		option.WithMaxRetries(0),
		option.WithRequestTimeout(d.o.Timeout),
	)
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	page, err := client.Models.List(ctx)
	if err != nil {
		var ae *openai.Error
		if errors.As(err, &ae) {
			msg := fmt.Sprintf("%s answered HTTP %d to GET /models", c.LLMBaseURL, ae.StatusCode)
			if m := providerMessage(ae); m != "" {
				msg += ": " + m
			}
			d.add("llm", Fail, msg, llmFix(ae.StatusCode))
			return
		}
		d.add("llm", Fail, "cannot reach "+c.LLMBaseURL+": "+plainErr(err),
			"Check PARLEY_LLM_BASE_URL and that the server runs (Ollama: http://localhost:11434/v1).")
		return
	}
	ids := make([]string, 0, len(page.Data))
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	want := []string{c.LLMModel}
	if d.schemaOK {
		mctx, mcancel := context.WithTimeout(context.Background(), d.o.Timeout)
		ms, err := d.store.AssistantModels(mctx)
		mcancel()
		if err == nil {
			for _, m := range ms {
				if !slices.Contains(want, m) {
					want = append(want, m)
				}
			}
		}
	}
	var missing []string
	for _, m := range want {
		if !slices.Contains(ids, m) {
			missing = append(missing, m)
		}
	}
	msg := fmt.Sprintf("%s answers with the key; it lists %d model(s)", c.LLMBaseURL, len(ids))
	if len(missing) > 0 {
		d.add("llm", Warn, msg+"; not among them: "+strings.Join(missing, ", "),
			"Set PARLEY_LLM_MODEL (and the assistants' model) to a model the endpoint serves, or pull it (ollama pull NAME).")
		return
	}
	d.add("llm", OK, msg+", including "+strings.Join(want, ", "), "")
}

// providerMessage is the provider's own error text: {"error":{"message","type","code"}}.
func providerMessage(ae *openai.Error) string {
	m := strings.TrimSpace(ae.Message)
	var extra []string
	if ae.Type != "" {
		extra = append(extra, ae.Type)
	}
	if ae.Code != "" && ae.Code != ae.Type {
		extra = append(extra, ae.Code)
	}
	if m == "" {
		m = snippet(ae.RawJSON())
	}
	if len(extra) > 0 {
		m += " (" + strings.Join(extra, ", ") + ")"
	}
	return m
}

func llmFix(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "The provider refuses PARLEY_LLM_API_KEY: copy a valid key from the provider's dashboard."
	case http.StatusForbidden:
		return "The key has no access to the model list: check the key's permissions or project."
	case http.StatusNotFound:
		return "PARLEY_LLM_BASE_URL has no /models: check the URL (it usually ends in /v1)."
	case http.StatusTooManyRequests:
		return "The provider rate-limits or the account is out of credit: check its billing page."
	}
	if status >= 500 {
		return "The provider has trouble: try again later, or check its status page."
	}
	return "Check PARLEY_LLM_BASE_URL and PARLEY_LLM_API_KEY."
}
