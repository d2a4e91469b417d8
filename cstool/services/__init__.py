"""Services: one per aggregate, the rules of each over the storage layer's repositories."""
