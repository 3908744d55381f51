package field

import "fmt"

// Closest is the candidate within edit distance 2 of s (the nearest, the
// first of equals), or "": the suggestion for a misspelt name.
func Closest(s string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// DidYouMean is `; did you mean "x"?` for the Closest candidate x, or "" when
// none is close: the tail of an "unknown name" message.
func DidYouMean(s string, candidates []string) string {
	if guess := Closest(s, candidates); guess != "" {
		return fmt.Sprintf("; did you mean %q?", guess)
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
