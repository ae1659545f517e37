package twilio

// SetMaxTemplates lowers how many templates a listing reads, for tests;
// the returned func restores it.
func SetMaxTemplates(n int) func() {
	old := maxTemplates
	maxTemplates = n
	return func() { maxTemplates = old }
}
