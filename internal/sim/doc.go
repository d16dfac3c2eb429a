// Package sim plays a festival crowd against a booking site, straight at the backend or
// through a waiting room, and measures what the visitors and the backend went through.
//
// The crowd follows an arrival curve (early arrivals before the opening, a spike in the opening
// seconds, a tail); each visitor behaves like a browser: it keeps cookies, polls when told to,
// may abandon, may step away and come back, may open a second tab, retries on errors the way
// impatient people do, and books when it gets in.
//
// Time is scaled: Scenario.Speed sale seconds pass for every wall second, so a 30-minute sale
// plays in a minute. Every figure is reported in sale time.
//
// The engine is event driven: visitors are state machines on one timer heap, served by a fixed
// pool of worker goroutines, so 100,000 visitors cost memory for 100,000 small structs and
// not 100,000 sleeping goroutines. Its own overhead (CPU time, goroutines, heap, dispatch lag)
// is measured and reported with the results.
package sim
