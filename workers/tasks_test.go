package workers_test

import "github.com/parleyhq/parley/workers"

// tk builds tasks of a fixed installation for the tests that only look at them.
var tk, _ = workers.NewTasks("p0123456789ab", nil)
