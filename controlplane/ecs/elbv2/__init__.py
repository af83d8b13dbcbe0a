"""ELBv2's Query protocol on the ECS gateway: ``aws elbv2 --endpoint-url`` and boto3's
``elbv2`` client create and describe Shoal's load balancers, listeners, rules and target
groups through it, each action mapped onto the Traffic service."""
