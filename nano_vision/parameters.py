"""Parameter tables of the nodes, without ROS.

Each node lists its parameters once, as :class:`ParamSpec` rows; the node
declares exactly these (with descriptors and ranges), the tests check launch
and YAML files against them, and the docs are generated from them.
"""

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ParamSpec:
    """One ROS parameter: name, default (its type is the parameter's), description, limits.

    A tuple default (of strings) makes a string-array parameter.
    """

    name: str
    default: object
    description: str
    read_only: bool = True
    min_value: float = None
    max_value: float = None
    choices: tuple = ()

    @property
    def type_name(self):
        """Return the ROS type of the parameter (bool, integer, double, string)."""
        return {bool: 'bool', int: 'integer', float: 'double', str: 'string',
                tuple: 'string_array'}[type(self.default)]

    def check(self, value):
        """Return ``value`` if it is valid for this parameter, else raise ValueError."""
        if isinstance(self.default, tuple):  # a string array: a list from rclpy or YAML
            if not (isinstance(value, (list, tuple))
                    and all(isinstance(v, str) for v in value)):
                raise ValueError(f'parameter {self.name!r} must be a list of strings, '
                                 f'got {value!r}')
            value = tuple(value)
        # As strict as rclpy: 30 is not a double, 1 is not a bool.
        elif type(value) is not type(self.default):
            raise ValueError(f'parameter {self.name!r} must be a {self.type_name}, '
                             f'got {value!r}')
        if self.min_value is not None and value < self.min_value:
            raise ValueError(f'parameter {self.name!r} = {value} is below its minimum '
                             f'{self.min_value}')
        if self.max_value is not None and value > self.max_value:
            raise ValueError(f'parameter {self.name!r} = {value} is above its maximum '
                             f'{self.max_value}')
        if self.choices and value not in self.choices:
            raise ValueError(f'parameter {self.name!r} = {value!r} is not one of '
                             f'{", ".join(map(str, self.choices))}')
        return value


def _rows(specs, names):
    """Return name -> spec of ``specs``; raise ValueError for a name not among them."""
    by_name = {spec.name: spec for spec in specs}
    unknown = sorted(set(names) - set(by_name))
    if unknown:
        raise ValueError(f'unknown parameter(s) {", ".join(unknown)}; known: '
                         f'{", ".join(by_name)}')
    return by_name


def check_values(specs, values):
    """Return ``values`` (a name -> value dict) checked against ``specs``.

    Missing names take their defaults; unknown names raise ValueError.
    """
    _rows(specs, values)
    return {spec.name: spec.check(values.get(spec.name, spec.default)) for spec in specs}


class NodeConfig:
    """Base of a node's frozen config dataclass: one field per row of ``PARAMETERS``.

    Each value is checked against its row; :meth:`check` (run by every
    constructor, :meth:`changed` included) applies the rules between values, and
    :meth:`parse` turns checked parameter values into field values (the camera's
    source string into a SourceSpec).
    """

    PARAMETERS = ()

    def __post_init__(self):
        """Apply the rules between values."""
        self.check()

    def check(self):
        """Raise ValueError, saying what to change, when values do not work together."""

    @classmethod
    def parse(cls, values):
        """Return checked parameter values (name -> value) as field values."""
        return values

    @classmethod
    def from_values(cls, values):
        """Build the config from parameter values (name -> value); missing ones take defaults.

        :raises ValueError: a value that cannot work, with what to change
        """
        return cls(**cls.parse(check_values(cls.PARAMETERS, values)))

    def changed(self, **values):
        """Return a copy with the parameters in ``values`` changed, checked as at start.

        :raises ValueError: an unknown name or a value that cannot work, with what to change
        """
        rows = _rows(self.PARAMETERS, values)
        checked = {name: rows[name].check(value) for name, value in values.items()}
        return replace(self, **self.parse(checked))
