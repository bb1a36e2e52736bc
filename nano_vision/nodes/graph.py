"""Which nodes each launch file starts and how they are wired, as plain data.

A :class:`Graph` names a launch file's arguments (description, default, choices),
its parameter file under config/, and its nodes. A :class:`GraphNode` says which
executable runs (the node is named after it), the parameters set on top of the
parameter file (a value, or ``Arg(name)``: the launch argument ``name``, typed as the
node declares that parameter), the remappings, whether the launch cannot go on
without it, and when it runs (conditions on the arguments, all of which must hold).

The launch files build their arguments and nodes from these graphs
(nano_vision/nodes/launch_description.py) and ``nano-vision demo`` starts its nodes
from them too (nano_vision/tools/demo/run.py): the two cannot drift apart. No
launch, no rclpy here: the demo and the tests read the graphs without ROS.
"""

from dataclasses import dataclass, field, replace
import json

from nano_vision.datasets.layout import TASKS
from nano_vision.inference.config import IN_PROCESS_CAMERA
from nano_vision.nodes.registry import NODE_PARAMETERS
from nano_vision.scenes.track import TRACKS


@dataclass(frozen=True)
class Arg:
    """The value of the launch argument ``name``, where a parameter or a remapping takes it."""

    name: str


@dataclass(frozen=True)
class Argument:
    """A launch argument: its name, what it is, its default (None: required) and choices."""

    name: str
    description: str
    default: str = None
    choices: tuple = ()


@dataclass(frozen=True)
class Equals:
    """Holds when the launch argument ``argument`` is ``value``."""

    argument: str
    value: str

    def holds(self, arguments):
        """Return whether the condition holds for ``arguments`` (name -> text)."""
        return arguments[self.argument] == self.value

    def __str__(self):
        """Return the condition as a user writes the argument."""
        return f'{self.argument}:={self.value}'


@dataclass(frozen=True)
class IsTrue:
    """Holds when the launch argument ``argument`` is true (true or 1, false or 0)."""

    argument: str

    def holds(self, arguments):
        """Return whether the condition holds for ``arguments`` (name -> text)."""
        return parse_bool(self.argument, arguments[self.argument])

    def __str__(self):
        """Return the condition as a user writes the argument."""
        return f'{self.argument}:=true'


@dataclass(frozen=True)
class Not:
    """Holds when ``condition`` does not."""

    condition: object

    def holds(self, arguments):
        """Return whether the condition holds for ``arguments`` (name -> text)."""
        return not self.condition.holds(arguments)

    def __str__(self):
        """Return the condition in words."""
        return f'not {self.condition}'


@dataclass(frozen=True)
class AnyOf:
    """Holds when one of ``conditions`` does."""

    conditions: tuple
    joined = staticmethod(any)  # how the conditions' truths combine, and its word
    word = 'or'

    def holds(self, arguments):
        """Return whether the conditions hold together for ``arguments`` (name -> text)."""
        return self.joined(condition.holds(arguments) for condition in self.conditions)

    def __str__(self):
        """Return the conditions in words."""
        return '(' + f' {self.word} '.join(map(str, self.conditions)) + ')'


@dataclass(frozen=True)
class AllOf(AnyOf):
    """Holds when every one of ``conditions`` does."""

    joined = staticmethod(all)
    word = 'and'


@dataclass(frozen=True)
class GraphNode:
    """One node of a graph: executable, parameters, remappings, required, conditions.

    ``camera``: the node reads the camera source itself (a model node's in-process
    camera) and takes the camera node's settings of the parameter file too
    (:func:`camera_parameters`).
    """

    executable: str
    parameters: dict = field(default_factory=dict)
    remappings: tuple = ()
    required: bool = True
    when: tuple = ()
    camera: bool = False

    @property
    def name(self):
        """Return the node's name: its executable's."""
        return self.executable

    def runs(self, arguments):
        """Return whether the node runs with ``arguments`` (every condition holds)."""
        return all(condition.holds(arguments) for condition in self.when)

    def parameter_values(self, arguments):
        """Return the node's parameters with ``arguments`` (name -> text) put in.

        A list from an empty argument is left out: a parameter file cannot give an empty
        list a type, and the node's default is empty anyway.
        """
        values = {}
        for name, value in self.parameters.items():
            if isinstance(value, Arg):
                value = typed_argument(self.executable, name, arguments[value.name])
                if value == ():
                    continue
            values[name] = value
        return values

    def remapping_rules(self, arguments):
        """Return the node's (from, to) remappings with ``arguments`` put in."""
        return [(source, arguments[target.name] if isinstance(target, Arg) else target)
                for source, target in self.remappings]


@dataclass(frozen=True)
class Graph:
    """A launch file's arguments, parameter file and nodes.

    ``config`` is the parameter file under config/ that the ``params_file`` argument
    defaults to, or ``Arg(name)`` for config/<value of the argument name>.yaml.
    Every graph also has the arguments ``namespace`` (:data:`NAMESPACE`) and
    ``params_file``.
    """

    name: str
    config: object
    arguments: tuple
    nodes: tuple

    @property
    def launch_file(self):
        """Return the name of the launch file of launch/ that starts this graph."""
        return f'{self.name}.launch.py'

    @property
    def config_text(self):
        """Return the default parameter file as the ``params_file`` description says it."""
        if isinstance(self.config, Arg):
            return f'config/<{self.config.name}>.yaml'
        return f'config/{self.config}'

    def config_file(self, arguments):
        """Return the file name, under config/, of the parameter file for ``arguments``."""
        if isinstance(self.config, Arg):
            return f'{arguments[self.config.name]}.yaml'
        return self.config

    def argument_values(self, given):
        """Return every argument's value (text): ``given``, else its default.

        Checked as ros2 launch checks them.

        :raises ValueError: an argument the graph does not declare, a required one
            missing, or a value not among an argument's choices
        """
        declared = {argument.name: argument for argument in (*self.arguments, NAMESPACE)}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise ValueError(f'{self.launch_file} has no argument {", ".join(unknown)}; it '
                             f'has {", ".join(declared)}')
        values = {}
        for name, argument in declared.items():
            value = given.get(name, argument.default)
            if value is None:
                raise ValueError(f'{self.launch_file} needs the argument {name}: '
                                 f'{argument.description}')
            if argument.choices and value not in argument.choices:
                raise ValueError(f'{name}:={value} is not one of '
                                 f'{", ".join(argument.choices)}')
            values[name] = str(value)
        return values

    def running(self, arguments):
        """Return the nodes that run with ``arguments`` (every argument's value)."""
        return [node for node in self.nodes if node.runs(arguments)]


def parse_bool(name, text):
    """Return the truth of the argument ``name`` as launch conditions read it.

    :raises ValueError: neither true/1 nor false/0 (any case)
    """
    value = str(text).strip().lower()
    if value in ('true', '1'):
        return True
    if value in ('false', '0'):
        return False
    raise ValueError(f'{name}:={text} must be true or false')


def parameter_type(executable, name):
    """Return the Python type of parameter ``name`` of ``executable`` (its declared default's).

    :raises ValueError: the node does not declare the parameter
    """
    specs = {spec.name: spec for spec in NODE_PARAMETERS[executable]}
    if name not in specs:
        raise ValueError(f'{executable} declares no parameter {name!r}')
    return type(specs[name].default)


def typed_argument(executable, name, text):
    """Return the text of a launch argument as the value of parameter ``name`` of ``executable``.

    A string-array parameter takes a comma-separated list (``a,b``).

    :raises ValueError: text that is not a value of the parameter's type
    """
    kind = parameter_type(executable, name)
    if kind is tuple:  # a list of strings: comma-separated
        return tuple(item.strip() for item in text.split(',') if item.strip())
    if kind is bool:
        return parse_bool(name, text)
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{executable}: {name}:={text} is not of the parameter's type "
                         f'({kind.__name__})') from None


def parameter_sections(params):
    """Yield the ``(node name, parameters)`` of each section of a parsed parameter file.

    The node name is the last part of the section's key (``/**/camera`` -> ``camera``);
    keys may also nest (``robot1: camera: ros__parameters``).
    """
    def walk(value, path):
        if not isinstance(value, dict):
            return
        if 'ros__parameters' in value:
            yield path.rsplit('/', 1)[-1], value['ros__parameters'] or {}
            return
        for key, item in value.items():
            yield from walk(item, f'{path}/{str(key).strip("/")}')
    yield from walk(params, '')


def camera_parameters(params, executable):
    """Return what a parameter file sets for the in-process camera of ``executable``.

    The camera's settings (size, rate, encoding...) stay in one place, the camera
    node's section, whichever node reads the camera: its values of the camera
    parameters ``executable`` declares (IN_PROCESS_CAMERA), except those that the
    node's own section, or one for every node (``/**``), sets.

    :param params: the parameter file, parsed (YAML); None for an empty file
    """
    declared = {spec.name for spec in NODE_PARAMETERS[executable]} & set(IN_PROCESS_CAMERA)
    camera, own = {}, set()
    for name, values in parameter_sections(params or {}):
        if name == 'camera':
            camera.update(values)
        elif name in (executable, '*', '**'):
            own.update(values)
    return {name: value for name, value in camera.items() if name in declared - own}


def read_camera_parameters(params_file, executable):
    """Return :func:`camera_parameters` of the parameter file at ``params_file``.

    :raises ValueError: the file cannot be read or is not YAML
    """
    import yaml
    try:
        with open(params_file, encoding='utf-8') as stream:
            params = yaml.safe_load(stream)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f'cannot read the parameter file {params_file}: {exc}') from None
    return camera_parameters(params, executable)


def ros_arguments(node, arguments, params_file, parameters=None):
    """Return the ``--ros-args`` options that start ``node`` as its launch file does.

    :param node: a :class:`GraphNode`
    :param arguments: every launch argument's value (:meth:`Graph.argument_values`)
    :param params_file: the path of the parameter file
    :param parameters: more parameters, set after the node's own
    :raises ValueError: a node with an in-process camera and a parameter file that
        cannot be read
    """
    options = ['--ros-args']
    namespace = arguments['namespace'].strip('/')
    if namespace:  # launch makes it absolute
        options += ['-r', f'__ns:=/{namespace}']
    options += ['--params-file', params_file]
    for source, target in node.remapping_rules(arguments):
        options += ['-r', f'{source}:={target}']
    camera = read_camera_parameters(params_file, node.executable) if node.camera else {}
    for name, value in {**camera, **node.parameter_values(arguments),
                        **(parameters or {})}.items():
        # -p values are YAML: JSON is YAML, and keeps a string a string ("1", "true")
        options += ['-p', f'{name}:={json.dumps(value)}']
    return options


# ---------------------------------------------------------------- the graphs

NAMESPACE = Argument('namespace', 'Namespace of the nodes and their topics', default='')
SOURCE = Argument('source', '/dev/videoN, csi, gst:<pipeline>, a video file, an image folder '
                  'or synthetic:<scene>', default='/dev/video0')
MODEL = Argument('model', 'Model file (.pt or .onnx)')

# The node that runs a model of each task (nano_vision.datasets.layout.TASKS).
MODEL_NODES = {'classification': 'classifier', 'xy': 'regressor'}
# The course projects with a config/<project>.yaml and a launch file, and their task.
PROJECTS = {'thumbs': 'classification', 'emotions': 'classification', 'face_xy': 'xy',
            'fingers': 'classification'}
# pipeline.launch.py's project of your own categories: config/custom.yaml, for any model.
CUSTOM = 'custom'

# The model node reads the camera's frames, raw or (image_transport:=compressed) JPEG.
TO_CAMERA = (('image', 'image_raw'), ('image/compressed', 'image_raw/compressed'))

IN_PROCESS = Argument(
    'in_process_camera', 'true: the model node reads the source itself, with the camera '
    "section's settings, and publishes image_raw and camera_info only while someone "
    'subscribes (no camera node: more results per second, docs/benchmarks.md); false: a '
    'camera node publishes every frame and the model node subscribes', default='true')
READS_CAMERA = IsTrue(IN_PROCESS.name)

CAMERA = GraphNode('camera', parameters={'source': Arg('source')})
OVERLAY = GraphNode('overlay', remappings=(('image', 'image_raw'),), required=False)


def camera_and_model(executable, when=(), camera_when=None):
    """Return the camera node and the two forms of a model node, for in_process_camera.

    With in_process_camera:=true the model node reads the source itself (its frames,
    camera_info and ground truth on the camera node's topics) and no camera node runs;
    otherwise a camera node runs and the model node subscribes to it.

    :param when: the model node's conditions
    :param camera_when: the camera node's conditions besides the argument (None: ``when``)
    """
    reads = GraphNode(executable, parameters={'model': Arg('model'), 'source': Arg('source')},
                      remappings=TO_CAMERA, when=(READS_CAMERA, *when), camera=True)
    subscribes = GraphNode(executable, parameters={'model': Arg('model')},
                           remappings=TO_CAMERA, when=(Not(READS_CAMERA), *when))
    camera_when = when if camera_when is None else camera_when
    return (replace(CAMERA, when=(Not(AllOf((READS_CAMERA, *when))), *camera_when)),
            reads, subscribes)


CAMERA_ALONE = Graph('camera', config='camera.yaml', arguments=(SOURCE,), nodes=(CAMERA,))

# camera -> classifier or regressor -> overlay, with the project's config (the camera in
# the model node's process unless in_process_camera:=false)
PIPELINES = {project: Graph(project, config=f'{project}.yaml',
                            arguments=(MODEL, SOURCE, IN_PROCESS),
                            nodes=(*camera_and_model(MODEL_NODES[task]), OVERLAY))
             for project, task in PROJECTS.items()}


def _pipeline_nodes():
    # the camera once, then the model node of each task with its condition
    nodes = [replace(CAMERA, when=(Not(READS_CAMERA),))]
    for task in TASKS:
        nodes += camera_and_model(MODEL_NODES[task], when=(Equals('task', task),))[1:]
    return (*nodes, OVERLAY)


# The same nodes for any project and task: the model node is the task's; a project of your
# own categories takes config/custom.yaml, or a copy of it as params_file.
PIPELINE = Graph(
    'pipeline', config=Arg('project'),
    arguments=(
        Argument('project', f'The config/<project>.yaml to use; {CUSTOM}: a model of any '
                 'categories (your own; copy config/custom.yaml for params_file:=)',
                 default=CUSTOM, choices=(*PROJECTS, CUSTOM)),
        Argument('task', 'classification (classifier node) or xy (regressor node)',
                 choices=TASKS),
        MODEL, SOURCE, IN_PROCESS),
    nodes=_pipeline_nodes())

# camera -> detector (a classifier slid over a grid of windows) -> overlay, which draws the
# boxes over the heat map (config/objects.yaml)
OBJECTS = Graph(
    'objects', config='objects.yaml',
    arguments=(Argument('model', 'Classifier (.pt or .onnx) of window crops with a background '
                        'class (docs/detection.md)'), SOURCE, IN_PROCESS),
    nodes=(*camera_and_model('detector'), OVERLAY))

# Line following's conditions, by name.
IN_SIM = Equals('source', 'sim')
ORACLE = IsTrue('oracle')
NO_MODEL = Equals('model', '')
FOLLOW_MODEL = (Not(NO_MODEL), Not(ORACLE))
CMD_VEL = (('cmd_vel', Arg('cmd_vel_topic')),)


# A camera that is no simulator: the regressor reads it (in_process_camera) or a camera
# node runs; the simulator: the regressor subscribes to its frames.
_CAMERA, _READS, _SUBSCRIBES = camera_and_model(
    MODEL_NODES['xy'], when=(Not(IN_SIM), *FOLLOW_MODEL), camera_when=(Not(IN_SIM),))
ROAD_REGRESSORS = (_READS, replace(_SUBSCRIBES, when=(AnyOf((IN_SIM, Not(READS_CAMERA))),
                                                      *FOLLOW_MODEL)))


# camera (or the simulator) -> regressor -> steering -> cmd_vel, and an overlay; with
# oracle:=true in the simulator, steering follows the simulator's ground truth instead
LINE_FOLLOWING = Graph(
    'line_following', config='line_following.yaml',
    arguments=(
        Argument('model', 'Regressor model (.pt or .onnx) whose first keypoint is the target; '
                 'empty with oracle:=true', default=''),
        Argument('source', 'Camera source (/dev/videoN, csi, gst:<pipeline>, a video file, '
                 '...) or sim for the simulator', default='/dev/video0'),
        Argument('track', 'Simulator track (kidney is held out of datasets)', default='oval',
                 choices=tuple(TRACKS)),
        Argument('oracle', "With source:=sim: steer to the simulator's ground-truth target "
                 'instead of the model', default='false'),
        Argument('enabled', 'false: motors off, cmd_vel carries zero and steering/command '
                 'shows what would be sent', default='true'),
        Argument('cmd_vel_topic', "Topic of the robot base's velocity commands",
                 default='cmd_vel'),
        IN_PROCESS,
    ),
    nodes=(
        _CAMERA,
        GraphNode('sim', parameters={'track': Arg('track')}, remappings=CMD_VEL,
                  when=(IN_SIM,)),
        *ROAD_REGRESSORS,
        GraphNode('steering', parameters={'enabled': Arg('enabled')}, remappings=CMD_VEL,
                  when=(Not(ORACLE),)),
        GraphNode('steering', parameters={'enabled': Arg('enabled')},
                  remappings=(*CMD_VEL, ('point', 'ground_truth/point')),
                  when=(IN_SIM, ORACLE)),
        replace(OVERLAY, when=FOLLOW_MODEL),
    ))

# camera -> dataset_recorder, with the labelling page
RECORD = Graph(
    'record', config='record.yaml',
    arguments=(
        Argument('dataset', 'Dataset folder to record into'),
        Argument('task', 'classification or xy', default='classification', choices=TASKS),
        Argument('categories', 'Comma-separated categories shown from the start, e.g. '
                 'thumbs_up,thumbs_down', default=''),
        Argument('port', 'Port of the labelling page; 0 serves none', default='8080'),
        Argument('bag', 'Also record an mcap bag into this new folder; empty: no bag',
                 default=''),
        SOURCE),
    nodes=(CAMERA,
           GraphNode('dataset_recorder',
                     parameters={name: Arg(name)
                                 for name in ('dataset', 'task', 'categories', 'port', 'bag')},
                     remappings=(('image', 'image_raw'),))))

# Every graph, by name: launch/<name>.launch.py starts it.
GRAPHS = {graph.name: graph for graph in (CAMERA_ALONE, RECORD, *PIPELINES.values(), PIPELINE,
                                          OBJECTS, LINE_FOLLOWING)}
