package rule

// DrainChunk is how many events a run reads at once.
const DrainChunk = drainChunk
