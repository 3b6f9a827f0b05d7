package testkit

// DefaultAnswer is the answer the fake gives r when Answer is nil: an Answer func can hand
// the requests it does not care about back to it.
func (l *FakeLLM) DefaultAnswer(r LLMRequest) LLMAnswer { return l.defaultAnswer(r) }
