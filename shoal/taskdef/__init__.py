"""ECS task definitions: document.py parses and checks one (with task, containers, rules,
values, fields and walk); policy.py says what a definition may reach on its node."""
