"""ECS task definitions: the document parsed and checked (document.py), piece by piece."""
