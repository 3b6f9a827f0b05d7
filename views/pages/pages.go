// Package pages holds Parley's pages and their fragments, one file per page or family
// (conversations, conversation, Test Chat, assistants, settings, WhatsApp, analytics, queues,
// bulk deletion, login and setup, the widget's pages, the error page), with the view models
// they take. A page fills a shell of views/layouts with pieces of views/components; it gets
// everything it shows from its view model and reads no store and calls no service. Its URLs
// come from route names (app/web/routenames).
package pages

import (
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/components"
)

// Option is a select option.
type Option struct {
	Value, Label string
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

func itoaInt(n int) string { return strconv.Itoa(n) }

func convURL(id int64) string { return routenames.URL(routenames.Conversation, id) }

func when(t time.Time) string { return t.UTC().Format(components.Minute) }

func selected(a, b string) bool { return a == b }

// pendingID is the element id of the reply a user message waits for (Test Chat, widget).
func pendingID(userMsg int64) string { return "pending-" + strconv.FormatInt(userMsg, 10) }

// inputType is the HTML input type of a pre-chat field type.
func inputType(t string) string {
	switch t {
	case "email":
		return "email"
	case "phone":
		return "tel"
	}
	return "text"
}

// assistantName is the label of the assistant an Analytics view's quality charts show.
func assistantName(d AnalyticsView) string {
	for _, o := range d.Assistants {
		if o.Value == d.Assistant {
			return o.Label
		}
	}
	return ""
}

// judgementLabel shows a value of the judgement's vocabulary (model.Outcomes, Sentiments,
// ReviewStatuses): "handed_off" is "Handed off".
func judgementLabel(v string) string {
	if v == "" {
		return ""
	}
	v = strings.ReplaceAll(v, "_", " ")
	return strings.ToUpper(v[:1]) + v[1:]
}

// JudgementLabel is judgementLabel for the handlers' view models.
func JudgementLabel(v string) string { return judgementLabel(v) }
