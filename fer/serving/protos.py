"""The few TensorFlow Serving protobuf messages a gRPC client needs, built without TensorFlow.

``tensorflow_serving.apis.*_pb2`` import ``tensorflow.core.framework.*_pb2``, which runs
``tensorflow/__init__.py`` (all of TensorFlow and Keras). The messages here are declared from
hand-written FileDescriptorProtos with the same packages, message names and field numbers as
tensorflow_serving/apis/{model,predict,get_model_metadata}.proto and
tensorflow/core/{framework/tensor,framework/tensor_shape,framework/types,protobuf/meta_graph}.proto,
so they are wire-compatible with TensorFlow Serving and `fer serve`. Each message keeps only the
fields this project uses; fields a server sends that are left out here are kept as unknown fields.

They live in a private DescriptorPool under their own file names, so they cannot clash with
TensorFlow's protos (in the default pool) when both are loaded in one process.
"""
from __future__ import annotations

import numpy as np
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

_F = descriptor_pb2.FieldDescriptorProto

# tensorflow.DataType (types.proto): the values this module encodes and decodes; proto3 enums are
# open, so any other value a server sends still parses, as its number.
DATA_TYPES = {"DT_INVALID": 0, "DT_FLOAT": 1, "DT_DOUBLE": 2, "DT_INT32": 3, "DT_UINT8": 4, "DT_INT16": 5,
              "DT_INT8": 6, "DT_STRING": 7, "DT_INT64": 9, "DT_BOOL": 10, "DT_UINT16": 17, "DT_HALF": 19,
              "DT_UINT32": 22, "DT_UINT64": 23}
DT_FLOAT = DATA_TYPES["DT_FLOAT"]


def _field(name: str, number: int, kind: int, type_name: str = "", *, repeated: bool = False,
           oneof: int | None = None, packed: bool = False) -> _F:
    field = _F(name=name, number=number, type=kind, label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
    if type_name:  # descriptor.proto is proto2: an empty type_name would count as set
        field.type_name = type_name
    if oneof is not None:
        field.oneof_index = oneof
    if packed:
        field.options.packed = True
    return field


def _message(name: str, fields: list, nested: tuple = (), oneofs: tuple = ()) -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name=name)
    message.field.extend(fields)
    message.nested_type.extend(nested)
    message.oneof_decl.extend(descriptor_pb2.OneofDescriptorProto(name=o) for o in oneofs)
    return message


def _map(name: str, number: int, parent: str, value_kind: int, value_type: str = ""):
    """A ``map<string, V>`` field of ``parent`` (full name) and its nested entry message, as protoc writes them."""
    entry = "".join(part.capitalize() for part in name.split("_")) + "Entry"
    message = _message(entry, [_field("key", 1, _F.TYPE_STRING), _field("value", 2, value_kind, value_type)])
    message.options.map_entry = True
    return _field(name, number, _F.TYPE_MESSAGE, f".{parent}.{entry}", repeated=True), message


def _tensorflow_file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(name="fer/serving/protos/tensorflow_subset.proto",
                                              package="tensorflow", syntax="proto3")
    file.enum_type.add(name="DataType").value.extend(
        descriptor_pb2.EnumValueDescriptorProto(name=name, number=number) for name, number in DATA_TYPES.items())
    dim = _message("Dim", [_field("size", 1, _F.TYPE_INT64), _field("name", 2, _F.TYPE_STRING)])
    file.message_type.append(_message("TensorShapeProto", [
        _field("dim", 2, _F.TYPE_MESSAGE, ".tensorflow.TensorShapeProto.Dim", repeated=True),
        _field("unknown_rank", 3, _F.TYPE_BOOL)], nested=(dim,)))
    file.message_type.append(_message("TensorProto", [
        _field("dtype", 1, _F.TYPE_ENUM, ".tensorflow.DataType"),
        _field("tensor_shape", 2, _F.TYPE_MESSAGE, ".tensorflow.TensorShapeProto"),
        _field("version_number", 3, _F.TYPE_INT32),
        _field("tensor_content", 4, _F.TYPE_BYTES),
        _field("half_val", 13, _F.TYPE_INT32, repeated=True, packed=True),
        _field("float_val", 5, _F.TYPE_FLOAT, repeated=True, packed=True),
        _field("double_val", 6, _F.TYPE_DOUBLE, repeated=True, packed=True),
        _field("int_val", 7, _F.TYPE_INT32, repeated=True, packed=True),
        _field("string_val", 8, _F.TYPE_BYTES, repeated=True),
        _field("int64_val", 10, _F.TYPE_INT64, repeated=True, packed=True),
        _field("bool_val", 11, _F.TYPE_BOOL, repeated=True, packed=True),
        _field("uint32_val", 16, _F.TYPE_UINT32, repeated=True, packed=True),
        _field("uint64_val", 17, _F.TYPE_UINT64, repeated=True, packed=True)]))
    # meta_graph.proto: TensorInfo without its coo_sparse (4) and composite_tensor (5) encodings.
    file.message_type.append(_message("TensorInfo", [
        _field("name", 1, _F.TYPE_STRING, oneof=0),
        _field("dtype", 2, _F.TYPE_ENUM, ".tensorflow.DataType"),
        _field("tensor_shape", 3, _F.TYPE_MESSAGE, ".tensorflow.TensorShapeProto")], oneofs=("encoding",)))
    inputs, inputs_entry = _map("inputs", 1, "tensorflow.SignatureDef", _F.TYPE_MESSAGE, ".tensorflow.TensorInfo")
    outputs, outputs_entry = _map("outputs", 2, "tensorflow.SignatureDef", _F.TYPE_MESSAGE, ".tensorflow.TensorInfo")
    defaults, defaults_entry = _map("defaults", 4, "tensorflow.SignatureDef", _F.TYPE_MESSAGE,
                                    ".tensorflow.TensorProto")
    file.message_type.append(_message("SignatureDef", [inputs, outputs, _field("method_name", 3, _F.TYPE_STRING),
                                                       defaults], nested=(inputs_entry, outputs_entry, defaults_entry)))
    return file


def _serving_file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="fer/serving/protos/tensorflow_serving_subset.proto", package="tensorflow.serving", syntax="proto3",
        dependency=["google/protobuf/any.proto", "google/protobuf/wrappers.proto",
                    "fer/serving/protos/tensorflow_subset.proto"])
    spec = ".tensorflow.serving.ModelSpec"
    file.message_type.append(_message("ModelSpec", [  # model.proto
        _field("name", 1, _F.TYPE_STRING),
        _field("version", 2, _F.TYPE_MESSAGE, ".google.protobuf.Int64Value", oneof=0),
        _field("version_label", 4, _F.TYPE_STRING, oneof=0),
        _field("signature_name", 3, _F.TYPE_STRING)], oneofs=("version_choice",)))
    # predict.proto, without predict_streamed_options (5), client_id (6) and request_options (7)
    inputs, inputs_entry = _map("inputs", 2, "tensorflow.serving.PredictRequest", _F.TYPE_MESSAGE,
                                ".tensorflow.TensorProto")
    file.message_type.append(_message("PredictRequest", [
        _field("model_spec", 1, _F.TYPE_MESSAGE, spec), inputs,
        _field("output_filter", 3, _F.TYPE_STRING, repeated=True)], nested=(inputs_entry,)))
    outputs, outputs_entry = _map("outputs", 1, "tensorflow.serving.PredictResponse", _F.TYPE_MESSAGE,
                                  ".tensorflow.TensorProto")
    file.message_type.append(_message("PredictResponse", [_field("model_spec", 2, _F.TYPE_MESSAGE, spec), outputs],
                                      nested=(outputs_entry,)))
    # get_model_metadata.proto
    signatures, signatures_entry = _map("signature_def", 1, "tensorflow.serving.SignatureDefMap", _F.TYPE_MESSAGE,
                                        ".tensorflow.SignatureDef")
    file.message_type.append(_message("SignatureDefMap", [signatures], nested=(signatures_entry,)))
    file.message_type.append(_message("GetModelMetadataRequest", [
        _field("model_spec", 1, _F.TYPE_MESSAGE, spec),
        _field("metadata_field", 2, _F.TYPE_STRING, repeated=True)]))
    metadata, metadata_entry = _map("metadata", 2, "tensorflow.serving.GetModelMetadataResponse", _F.TYPE_MESSAGE,
                                    ".google.protobuf.Any")
    file.message_type.append(_message("GetModelMetadataResponse", [_field("model_spec", 1, _F.TYPE_MESSAGE, spec),
                                                                   metadata], nested=(metadata_entry,)))
    return file


def _build_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for module in (any_pb2, wrappers_pb2):
        file = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(file)
        pool.Add(file)
    pool.Add(_tensorflow_file())
    pool.Add(_serving_file())
    return pool


POOL = _build_pool()


def _message_class(full_name: str):
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(full_name))


TensorShapeProto = _message_class("tensorflow.TensorShapeProto")
TensorProto = _message_class("tensorflow.TensorProto")
TensorInfo = _message_class("tensorflow.TensorInfo")
SignatureDef = _message_class("tensorflow.SignatureDef")
ModelSpec = _message_class("tensorflow.serving.ModelSpec")
PredictRequest = _message_class("tensorflow.serving.PredictRequest")
PredictResponse = _message_class("tensorflow.serving.PredictResponse")
SignatureDefMap = _message_class("tensorflow.serving.SignatureDefMap")
GetModelMetadataRequest = _message_class("tensorflow.serving.GetModelMetadataRequest")
GetModelMetadataResponse = _message_class("tensorflow.serving.GetModelMetadataResponse")

PREDICT = "/tensorflow.serving.PredictionService/Predict"
GET_MODEL_METADATA = "/tensorflow.serving.PredictionService/GetModelMetadata"

# DataType -> (little-endian numpy dtype of tensor_content, the repeated *_val field)
_NUMPY = {DATA_TYPES["DT_FLOAT"]: ("<f4", "float_val"), DATA_TYPES["DT_DOUBLE"]: ("<f8", "double_val"),
          DATA_TYPES["DT_INT32"]: ("<i4", "int_val"), DATA_TYPES["DT_UINT8"]: ("u1", "int_val"),
          DATA_TYPES["DT_INT16"]: ("<i2", "int_val"), DATA_TYPES["DT_INT8"]: ("i1", "int_val"),
          DATA_TYPES["DT_UINT16"]: ("<u2", "int_val"), DATA_TYPES["DT_INT64"]: ("<i8", "int64_val"),
          DATA_TYPES["DT_BOOL"]: ("?", "bool_val"), DATA_TYPES["DT_HALF"]: ("<f2", "half_val"),
          DATA_TYPES["DT_UINT32"]: ("<u4", "uint32_val"), DATA_TYPES["DT_UINT64"]: ("<u8", "uint64_val")}
_DATA_TYPE = {np.dtype(little).newbyteorder("="): data_type for data_type, (little, _) in _NUMPY.items()}


def tensor_proto(array) -> TensorProto:
    """A numeric array as a TensorProto: dtype, shape and little-endian ``tensor_content``, as
    ``tf.make_tensor_proto`` writes it."""
    array = np.asarray(array)
    data_type = _DATA_TYPE.get(array.dtype.newbyteorder("="))
    if data_type is None:
        raise ValueError(f"no TensorFlow DataType here for numpy {array.dtype}")
    tensor = TensorProto(dtype=data_type)
    tensor.tensor_shape.dim.extend(TensorShapeProto.Dim(size=size) for size in array.shape)
    tensor.tensor_content = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return tensor


def to_ndarray(tensor: TensorProto) -> np.ndarray:
    """A TensorProto's values, from ``tensor_content`` or its ``*_val`` field, as ``tf.make_ndarray`` reads them
    (a ``*_val`` shorter than the shape is padded with its last value)."""
    if tensor.dtype not in _NUMPY:
        raise ValueError(f"TensorProto of DataType {tensor.dtype}: only numeric types are decoded here")
    little, values_field = _NUMPY[tensor.dtype]
    native = np.dtype(little).newbyteorder("=")
    shape = [dim.size for dim in tensor.tensor_shape.dim]
    if tensor.tensor_shape.unknown_rank or any(size < 0 for size in shape):
        raise ValueError(f"TensorProto of unknown shape {shape}")
    if tensor.tensor_content:
        return np.frombuffer(tensor.tensor_content, dtype=little).astype(native).reshape(shape)
    count = int(np.prod(shape, dtype=np.int64))
    values = getattr(tensor, values_field)
    if values_field == "half_val":
        values = np.asarray(values, dtype=np.uint16).view(np.float16)
    values = np.asarray(values, dtype=native)
    if values.size == 0:
        return np.zeros(shape, dtype=native)
    if values.size > count:
        raise ValueError(f"TensorProto of shape {shape} holds {values.size} values")
    if values.size < count:
        values = np.pad(values, (0, count - values.size), "edge")
    return values.reshape(shape)
