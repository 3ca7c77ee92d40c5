"""One module per measured area. Each has a `DESCRIPTION` of what its two sides are and a
`measure(context)` that yields result rows as it measures them."""
