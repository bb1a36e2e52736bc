"""Declare a node's :class:`~nano_vision.parameters.ParamSpec` table with rclpy."""

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rcl_interfaces.msg import ParameterType
from rclpy.exceptions import ParameterUninitializedException
from rclpy.parameter import Parameter

_TYPES = {
    'bool': ParameterType.PARAMETER_BOOL,
    'integer': ParameterType.PARAMETER_INTEGER,
    'double': ParameterType.PARAMETER_DOUBLE,
    'string': ParameterType.PARAMETER_STRING,
    'string_array': ParameterType.PARAMETER_STRING_ARRAY,
}


def descriptor_for(spec):
    """Return the ParameterDescriptor of ``spec`` (description, read_only, range)."""
    descriptor = ParameterDescriptor(
        name=spec.name, type=_TYPES[spec.type_name], description=spec.description,
        read_only=spec.read_only)
    if spec.choices:
        descriptor.additional_constraints = 'one of: ' + ', '.join(map(str, spec.choices))
    if spec.min_value is not None and spec.max_value is not None:
        if spec.type_name == 'integer':
            descriptor.integer_range = [IntegerRange(
                from_value=int(spec.min_value), to_value=int(spec.max_value), step=0)]
        elif spec.type_name == 'double':
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=float(spec.min_value), to_value=float(spec.max_value), step=0.0)]
    return descriptor


def declare_parameters(node, specs):
    """Declare every parameter of ``specs`` on ``node``; return name -> value.

    rclpy refuses, at declaration, an override of the wrong type or out of
    range; the other checks (choices, cross-field rules) are the config
    dataclass's.
    """
    values = {}
    for spec in specs:
        default = spec.default
        if spec.type_name == 'string_array':
            # rclpy cannot tell the type of an empty list: give the type instead
            default = list(default) or Parameter.Type.STRING_ARRAY
        node.declare_parameter(spec.name, default, descriptor_for(spec))
        try:
            values[spec.name] = node.get_parameter(spec.name).value
        except ParameterUninitializedException:  # an empty array nobody set
            values[spec.name] = ()
    return values
