# The seed page's Azure ML SDK v1 local-deployment flow, as an Azure notebook has it, plus one line.
import mlnb.azureml  # noqa: F401, I001 - the one line a ported notebook adds, before its own imports

import json
import os

from azureml.core import Dataset, Workspace
from azureml.core.environment import Environment
from azureml.core.model import InferenceConfig, Model
from azureml.core.webservice import LocalWebservice, Webservice

ws = Workspace.from_config()
print("workspace:", ws.name, ws.subscription_id, ws.resource_group, ws.location)

model = Model.register(workspace=ws,
                       model_path="sklearn_regression_model.pkl",
                       model_name="sklearn_mnist",
                       tags={"area": "diabetes", "type": "regression"},
                       description="Ridge regression model to predict diabetes progression.")
print(model.name, model.id, model.version, sep='\t')

deploy_env = Environment.from_conda_specification("myenv", "env/myenv.yml")
deploy_env = deploy_env.register(workspace=ws)
deploy_env = Environment.get(workspace=ws, name="myenv", version="1")
inference_config = InferenceConfig(entry_script="x/y/score.py", environment=deploy_env)

deployment_config = LocalWebservice.deploy_configuration(port=int(os.environ["FLOW_PORT"]))
service = Model.deploy(ws, "myservice", [model], inference_config, deployment_config)
service.wait_for_deployment(show_output=True)
print(service.state)

test_sample = json.dumps({'data': [
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
]})
print("predictions:", service.run(test_sample))
print("port:", service.port, service.scoring_uri, service.swagger_uri)
print("logs:", len(service.get_logs(num_lines=5).splitlines()), "lines")

with open("x/y/score.py") as f:
    script = f.read()
with open("x/y/score.py", "w") as f:
    f.write(script.replace("return result.tolist()", "return [2 * value for value in result.tolist()]"))
service.reload()
print("after reload:", service.run(test_sample))

service.update(inference_config=InferenceConfig(runtime="python", entry_script="x/y/score.py", conda_file="env/myenv.yml"))
service.wait_for_deployment()
print("after update:", Webservice(ws, "myservice").run(test_sample))
service.delete()
print("deleted:", service.state, list(ws.webservices))

sample_request_data = Dataset.Tabular.from_delimited_files("sample_request_data.txt", separator="\n", header=False)
profile = Model.profile(ws, "profilemymodel", [model],
                        InferenceConfig(runtime="python", entry_script="x/y/score.py", conda_file="env/myenv.yml"),
                        input_dataset=sample_request_data)
profile.wait_for_completion(True)
details = profile.get_details()
print("profile:", profile.state, profile.recommended_cpu, profile.recommended_memory)
print("details:", json.dumps(sorted(details)))

package = Model.package(ws, [model], inference_config, generate_dockerfile=True)
package.wait_for_creation(show_output=True)
package.save("./imagefiles")
acr = package.get_container_registry()
print("Address:", acr.address)
print("saved:", sorted(os.listdir("imagefiles")))
