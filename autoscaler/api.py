"""The autoscaler's view of the control plane: the Operator and Scaling APIs on whichever
replica answers (shoal/endpoints.py, as the CLI and the agent reach it), with a deadline on
every call and gRPC errors turned into ``ApiError``."""

from __future__ import annotations

import grpc

from shoal.endpoints import Connection
from shoal.errors import ApiError
from shoal.paging import batches, every_page
from shoal.v1 import operator_pb2 as op
from shoal.v1 import operator_pb2_grpc, scaling_pb2_grpc
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc


class _Calls:
    def __init__(self, stub: object, timeout: float) -> None:
        self._stub = stub
        self._timeout = timeout

    def __getattr__(self, name: str):
        method = getattr(self._stub, name)

        def call(request):
            try:
                return method(request, timeout=self._timeout)
            except grpc.RpcError as exc:
                raise ApiError.from_rpc(exc, name) from None

        return call


class ControlPlane:
    """``connection``: the replicas and the autoscaler's credentials (an operator identity);
    a call that finds one replica unavailable goes to the next."""

    def __init__(self, connection: Connection, timeout: float = 10.0) -> None:
        self.endpoint = ",".join(connection.targets)
        self._stubs = [connection.stub(operator_pb2_grpc.OperatorStub, patience=timeout),
                       connection.stub(scaling_pb2_grpc.ScalingStub, patience=timeout)]
        self.operator = _Calls(self._stubs[0], timeout)
        self.scaling = _Calls(self._stubs[1], timeout)

    # ---- reads the scalers share ----------------------------------------------------------

    def services(self, cluster: str, names: list[str]) -> dict[str, r.Service]:
        out: dict[str, r.Service] = {}
        for batch in batches(names, 10):
            resp = self.operator.DescribeServices(op.DescribeServicesRequest(cluster=cluster, services=batch))
            out.update({s.service_name: s for s in resp.services})
        return out

    def live_tasks(self, cluster: str) -> list[r.Task]:
        arns = every_page(self.operator.ListTasks,
                          op.ListTasksRequest(cluster=cluster, desired_status="RUNNING", max_results=100))
        tasks: list[r.Task] = []
        for batch in batches(arns, 100):
            tasks += self.operator.DescribeTasks(op.DescribeTasksRequest(cluster=cluster, tasks=batch)).tasks
        return tasks

    def nodes(self, cluster: str) -> list[r.ContainerInstance]:
        arns = every_page(self.operator.ListContainerInstances,
                          op.ListContainerInstancesRequest(cluster=cluster, max_results=100))
        nodes: list[r.ContainerInstance] = []
        for batch in batches(arns, 100):
            nodes += self.operator.DescribeContainerInstances(
                op.DescribeContainerInstancesRequest(cluster=cluster, container_instances=batch)).container_instances
        return nodes

    def record(self, activity: sc.ScalingActivity) -> sc.ScalingActivity:
        return self.scaling.RecordScalingActivity(sc.RecordScalingActivityRequest(activity=activity)).activity

    def close(self) -> None:
        for stub in self._stubs:
            stub.close()
