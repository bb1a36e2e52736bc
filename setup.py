"""Install the nano_vision Python package, its nodes, launch and config files."""
from glob import glob

from setuptools import find_packages, setup

package_name = 'nano_vision'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(include=[package_name, package_name + '.*']),
    package_data={package_name: ['web/*.html', 'web/*.js', 'web/*.css']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml') + glob('config/*.xml')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='nano_vision maintainers',
    maintainer_email='maintainers@nano-vision.dev',
    description='Collect images, train a ResNet-18 and run it live on a ROS 2 robot.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'camera = nano_vision.nodes.camera:main',
            'classifier = nano_vision.nodes.classifier:main',
            'regressor = nano_vision.nodes.regressor:main',
            'detector = nano_vision.nodes.detector:main',
            'overlay = nano_vision.nodes.overlay:main',
            'steering = nano_vision.nodes.steering:main',
            'sim = nano_vision.nodes.sim:main',
            'dataset_recorder = nano_vision.nodes.dataset_recorder:main',
            'nano-vision = nano_vision.tools.cli:main',
        ],
    },
)
