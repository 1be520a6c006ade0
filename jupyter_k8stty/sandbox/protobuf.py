r"""Decode the Kubernetes protobuf encoding of a Pod (and DeleteOptions) into its JSON form.

kubectl's typed clients send ``application/vnd.kubernetes.protobuf`` bodies (``kubectl
debug node/NAME`` creates its pod that way), which the API server accepts for built-in
kinds. The envelope is the 4-byte magic ``k8s\0`` and a ``runtime.Unknown`` message
(``typeMeta`` 1, ``raw`` 2); ``raw`` is the object in the field numbers of
``k8s.io/api/core/v1/generated.proto``.

Only the fields the sandbox uses are described in :data:`SCHEMA`; other fields are
skipped, except that every volume source is kept by name (as ``{}`` unless described),
since Pod Security admission looks at which ones a pod uses. Protobuf carries zero
values that JSON omits (``omitempty``): they are dropped, except for the pointer fields
of :data:`POINTERS`, where an explicit ``false`` or ``0`` means something
(``allowPrivilegeEscalation: false``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAGIC", "PROTOBUF", "ProtobufError", "decode_object"]

PROTOBUF = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

# A field is (json name, type, repeated); a type is a scalar ("string", "bool", "int",
# "bytes"), "map" (string to string), "quantities" (string to Quantity), "inline:T"
# (message T merged into its parent, as VolumeSource into Volume) or a message name.
Field = tuple[str, str, bool]
SCHEMA: dict[str, dict[int, Field]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta", False), 2: ("raw", "bytes", False),
                3: ("contentEncoding", "string", False), 4: ("contentType", "string", False)},
    "TypeMeta": {1: ("apiVersion", "string", False), 2: ("kind", "string", False)},
    "Pod": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "PodSpec", False)},
    "ObjectMeta": {1: ("name", "string", False), 2: ("generateName", "string", False),
                   3: ("namespace", "string", False), 11: ("labels", "map", False),
                   12: ("annotations", "map", False)},
    "PodSpec": {
        1: ("volumes", "Volume", True), 2: ("containers", "Container", True),
        3: ("restartPolicy", "string", False), 4: ("terminationGracePeriodSeconds", "int", False),
        5: ("activeDeadlineSeconds", "int", False), 6: ("dnsPolicy", "string", False),
        7: ("nodeSelector", "map", False), 8: ("serviceAccountName", "string", False),
        9: ("serviceAccount", "string", False), 10: ("nodeName", "string", False),
        11: ("hostNetwork", "bool", False), 12: ("hostPID", "bool", False),
        13: ("hostIPC", "bool", False), 14: ("securityContext", "PodSecurityContext", False),
        16: ("hostname", "string", False), 19: ("schedulerName", "string", False),
        20: ("initContainers", "Container", True), 22: ("tolerations", "Toleration", True),
        24: ("priorityClassName", "string", False), 25: ("priority", "int", False),
        27: ("shareProcessNamespace", "bool", False), 29: ("runtimeClassName", "string", False),
        30: ("enableServiceLinks", "bool", False), 31: ("preemptionPolicy", "string", False),
        34: ("ephemeralContainers", "Empty", True),  # refused on create: presence is enough
    },
    "Container": {
        1: ("name", "string", False), 2: ("image", "string", False),
        3: ("command", "string", True), 4: ("args", "string", True),
        5: ("workingDir", "string", False), 6: ("ports", "ContainerPort", True),
        7: ("env", "EnvVar", True), 8: ("resources", "ResourceRequirements", False),
        9: ("volumeMounts", "VolumeMount", True), 13: ("terminationMessagePath", "string", False),
        14: ("imagePullPolicy", "string", False), 15: ("securityContext", "SecurityContext", False),
        16: ("stdin", "bool", False), 17: ("stdinOnce", "bool", False), 18: ("tty", "bool", False),
        20: ("terminationMessagePolicy", "string", False),
    },
    "ContainerPort": {1: ("name", "string", False), 2: ("hostPort", "int", False),
                      3: ("containerPort", "int", False), 4: ("protocol", "string", False)},
    "EnvVar": {1: ("name", "string", False), 2: ("value", "string", False)},
    "ResourceRequirements": {1: ("limits", "quantities", False), 2: ("requests", "quantities", False)},
    "VolumeMount": {1: ("name", "string", False), 2: ("readOnly", "bool", False),
                    3: ("mountPath", "string", False), 4: ("subPath", "string", False),
                    5: ("mountPropagation", "string", False), 6: ("subPathExpr", "string", False)},
    "Volume": {1: ("name", "string", False), 2: ("volumeSource", "inline:VolumeSource", False)},
    "VolumeSource": {
        1: ("hostPath", "HostPathVolumeSource", False), 2: ("emptyDir", "Empty", False),
        3: ("gcePersistentDisk", "Empty", False), 4: ("awsElasticBlockStore", "Empty", False),
        5: ("gitRepo", "Empty", False), 6: ("secret", "Empty", False), 7: ("nfs", "Empty", False),
        8: ("iscsi", "Empty", False), 9: ("glusterfs", "Empty", False),
        10: ("persistentVolumeClaim", "Empty", False), 11: ("rbd", "Empty", False),
        12: ("flexVolume", "Empty", False), 13: ("cinder", "Empty", False),
        14: ("cephfs", "Empty", False), 15: ("flocker", "Empty", False),
        16: ("downwardAPI", "Empty", False), 17: ("fc", "Empty", False),
        18: ("azureFile", "Empty", False), 19: ("configMap", "Empty", False),
        20: ("vsphereVolume", "Empty", False), 21: ("quobyte", "Empty", False),
        22: ("azureDisk", "Empty", False), 23: ("photonPersistentDisk", "Empty", False),
        24: ("portworxVolume", "Empty", False), 25: ("scaleIO", "Empty", False),
        26: ("projected", "Empty", False), 27: ("storageos", "Empty", False),
        28: ("csi", "Empty", False), 29: ("ephemeral", "Empty", False),
        30: ("image", "Empty", False),
    },
    "HostPathVolumeSource": {1: ("path", "string", False), 2: ("type", "string", False)},
    "Empty": {},
    "SecurityContext": {
        1: ("capabilities", "Capabilities", False), 2: ("privileged", "bool", False),
        4: ("runAsUser", "int", False), 5: ("runAsNonRoot", "bool", False),
        6: ("readOnlyRootFilesystem", "bool", False), 7: ("allowPrivilegeEscalation", "bool", False),
        8: ("runAsGroup", "int", False), 9: ("procMount", "string", False),
        11: ("seccompProfile", "SeccompProfile", False),
    },
    "Capabilities": {1: ("add", "string", True), 2: ("drop", "string", True)},
    "SeccompProfile": {1: ("type", "string", False), 2: ("localhostProfile", "string", False)},
    "PodSecurityContext": {2: ("runAsUser", "int", False), 3: ("runAsNonRoot", "bool", False),
                           5: ("fsGroup", "int", False), 6: ("runAsGroup", "int", False),
                           10: ("seccompProfile", "SeccompProfile", False)},
    "Toleration": {1: ("key", "string", False), 2: ("operator", "string", False),
                   3: ("value", "string", False), 4: ("effect", "string", False),
                   5: ("tolerationSeconds", "int", False)},
    "DeleteOptions": {1: ("gracePeriodSeconds", "int", False),
                      3: ("orphanDependents", "bool", False),
                      4: ("propagationPolicy", "string", False), 5: ("dryRun", "string", True)},
}


#: Optional (pointer) scalar fields: their zero value is kept, since it was set on purpose.
POINTERS: dict[str, frozenset[str]] = {
    "PodSpec": frozenset({"terminationGracePeriodSeconds", "activeDeadlineSeconds", "priority",
                          "shareProcessNamespace", "enableServiceLinks", "preemptionPolicy"}),
    "SecurityContext": frozenset({"privileged", "runAsUser", "runAsNonRoot", "readOnlyRootFilesystem",
                                  "allowPrivilegeEscalation", "runAsGroup", "procMount"}),
    "PodSecurityContext": frozenset({"runAsUser", "runAsNonRoot", "fsGroup", "runAsGroup"}),
    "Toleration": frozenset({"tolerationSeconds"}),
    "DeleteOptions": frozenset({"gracePeriodSeconds", "orphanDependents", "propagationPolicy"}),
}


class ProtobufError(ValueError):
    """The body is not a well-formed Kubernetes protobuf object."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """Split a message into (field number, wire type, value) triples."""
    out = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated field")
            value, pos = data[pos:pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _scalar(kind: str, wire: int, value: Any) -> Any:
    if kind == "string":
        return bytes(value).decode("utf-8", "replace")
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return value - (1 << 64) if value >= 1 << 63 else value
    return bytes(value)


def _map(value: bytes, quantities: bool) -> tuple[str, str]:
    key, item = "", ""
    for number, _, v in _fields(value):
        if number == 1:
            key = bytes(v).decode("utf-8", "replace")
        elif number == 2:
            # A Quantity is a message holding its string form in field 1.
            inner = next((x for n, _, x in _fields(v) if n == 1), b"") if quantities else v
            item = bytes(inner).decode("utf-8", "replace")
    return key, item


def decode_message(data: bytes, message: str) -> dict[str, Any]:
    """Decode ``data`` as message type ``message`` of :data:`SCHEMA` into JSON form."""
    schema = SCHEMA[message]
    out: dict[str, Any] = {}
    item: Any
    for number, wire, value in _fields(data):
        described = schema.get(number)
        if described is None:
            continue
        name, kind, repeated = described
        if kind in ("map", "quantities"):
            key, entry = _map(value, kind == "quantities")
            out.setdefault(name, {})[key] = entry
            continue
        if kind.startswith("inline:"):
            out.update(decode_message(value, kind.split(":", 1)[1]))
            continue
        if kind in SCHEMA:
            item = decode_message(value, kind)
        else:
            item = _scalar(kind, wire, value)
        if repeated:
            out.setdefault(name, []).append(item)
        elif item in ("", False, 0) and not isinstance(item, dict) and name not in POINTERS.get(
                message, ()):
            out.pop(name, None)  # a zero value JSON would omit
        else:
            out[name] = item
    return out


def decode_object(body: bytes, kind: str) -> dict[str, Any]:
    r"""Decode a protobuf request body holding a ``kind`` (``Pod``, ``DeleteOptions``).

    Raises:
        ProtobufError: the body lacks the ``k8s\0`` magic or is malformed.
    """
    if not body.startswith(MAGIC):
        raise ProtobufError("protobuf body without the k8s magic prefix")
    envelope = decode_message(body[len(MAGIC):], "Unknown")
    type_meta = envelope.get("typeMeta", {})
    if type_meta.get("kind") not in (None, "", kind):
        raise ProtobufError(f"expected a {kind}, got a {type_meta.get('kind')}")
    obj = decode_message(envelope.get("raw", b""), kind)
    obj["kind"] = type_meta.get("kind") or kind
    obj["apiVersion"] = type_meta.get("apiVersion") or "v1"
    return obj
