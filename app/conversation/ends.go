package conversation

import "github.com/parleyhq/parley/app/model"

// endReasonLabels are the end reasons (model.EndReasons) as the dashboard says them.
var endReasonLabels = map[string]string{
	model.EndIdle:    "no message for the idle time",
	model.EndVisitor: "the visitor ended the chat",
	model.EndWindow:  "the WhatsApp window closed",
	model.EndClosed:  "the Test Chat session was closed",
	model.EndAPI:     "ended through the API",
	model.EndAgent:   "ended by a member of the team",
}

// EndReasonLabel is why a conversation ended, for people (the reason itself when unknown).
func EndReasonLabel(reason string) string {
	if l, ok := endReasonLabels[reason]; ok {
		return l
	}
	return reason
}
