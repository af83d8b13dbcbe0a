"""Task roles: policy documents in IAM's grammar over Shoal's own actions, and the
short-lived credentials a task gets for its role."""
