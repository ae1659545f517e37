// Package sandbox holds faithful simulators of the messaging providers Parley
// talks to, and of the customers' phones on the other side of them.
//
// The simulators speak the providers' real wire formats (see
// shared/research/ and the OpenAPI documents in testdata/), so
// Parley's real adapters talk to them exactly as they would talk to the
// providers: through a base URL, or for twilio-go through TwilioTransport.
// They serve three purposes: end-to-end tests with nothing mocked inside
// Parley, the local demo (a customer-phone page where you type as a customer),
// and benchmarks and fault tests (outages, slow answers, duplicate webhooks).
//
// All state is in memory and guarded by a mutex; nothing is persisted.
package sandbox
