"""Ready-to-run examples (curl / Python / JavaScript) for one request type,
shared by the model catalog and the docs page. `base` is the user's base URL
(settings.base_url); the key is a placeholder the user replaces."""

from __future__ import annotations

KEY = "YOUR_API_KEY"
LANGUAGES = ("curl", "Python", "JavaScript")

# request type -> (path, JSON body for curl, python call, javascript call); {m} is the model id
_CALLS: dict[str, tuple[str, str, str, str]] = {
    "chat": (
        "/chat/completions",
        '{{"model": "{m}", "messages": [{{"role": "user", "content": "Hello!"}}]}}',
        'resp = client.chat.completions.create(\n    model="{m}",\n'
        '    messages=[{{"role": "user", "content": "Hello!"}}],\n)\nprint(resp.choices[0].message.content)',
        'const resp = await client.chat.completions.create({{\n  model: "{m}",\n'
        '  messages: [{{ role: "user", content: "Hello!" }}],\n}});\nconsole.log(resp.choices[0].message.content);',
    ),
    "responses": (
        "/responses",
        '{{"model": "{m}", "input": "Hello!"}}',
        'resp = client.responses.create(model="{m}", input="Hello!")\nprint(resp.output_text)',
        'const resp = await client.responses.create({{ model: "{m}", input: "Hello!" }});\n'
        'console.log(resp.output_text);',
    ),
    "embedding": (
        "/embeddings",
        '{{"model": "{m}", "input": "The quick brown fox"}}',
        'resp = client.embeddings.create(model="{m}", input="The quick brown fox")\n'
        'print(len(resp.data[0].embedding))',
        'const resp = await client.embeddings.create({{ model: "{m}", input: "The quick brown fox" }});\n'
        'console.log(resp.data[0].embedding.length);',
    ),
    "image": (
        "/images/generations",
        '{{"model": "{m}", "prompt": "a lighthouse at dawn", "size": "1024x1024"}}',
        'resp = client.images.generate(model="{m}", prompt="a lighthouse at dawn", size="1024x1024")\n'
        'print(resp.data[0].b64_json[:40] if resp.data[0].b64_json else resp.data[0].url)',
        'const resp = await client.images.generate({{ model: "{m}", prompt: "a lighthouse at dawn" }});\n'
        'console.log(resp.data[0].url ?? "b64 image");',
    ),
    "speech": (
        "/audio/speech",
        '{{"model": "{m}", "input": "Hello there", "voice": "alloy"}}',
        'resp = client.audio.speech.create(model="{m}", input="Hello there", voice="alloy")\n'
        'resp.write_to_file("hello.wav")',
        'const resp = await client.audio.speech.create({{ model: "{m}", input: "Hello there", voice: "alloy" }});\n'
        'console.log((await resp.arrayBuffer()).byteLength);',
    ),
    "transcription": (
        "/audio/transcriptions",
        "",
        'with open("hello.wav", "rb") as f:\n'
        '    resp = client.audio.transcriptions.create(model="{m}", file=f)\nprint(resp.text)',
        'import fs from "node:fs";\nconst resp = await client.audio.transcriptions.create({{\n'
        '  model: "{m}", file: fs.createReadStream("hello.wav"),\n}});\nconsole.log(resp.text);',
    ),
    "video": (
        "/videos",
        '{{"model": "{m}", "prompt": "a paper boat on a river", "seconds": "4"}}',
        'task = client.post("/videos", body={{"model": "{m}", "prompt": "a paper boat", "seconds": "4"}},\n'
        '                   cast_to=dict)\nprint(task["id"], task["status"])  # poll GET /v1/videos/{{id}}',
        'const task = await client.post("/videos", {{ body: {{ model: "{m}", prompt: "a paper boat", seconds: "4" }} }});\n'
        'console.log(task.id, task.status); // poll GET /v1/videos/{{id}}',
    ),
}


def api_base(base_url: str) -> str:
    return base_url.rstrip("/") + "/v1"


def examples(request_type: str, model: str, base_url: str) -> dict[str, str]:
    """{'curl': ..., 'Python': ..., 'JavaScript': ...} for one model."""
    path, body, py, js = _CALLS.get(request_type, _CALLS["chat"])
    base = api_base(base_url)
    if request_type == "transcription":
        curl = (f'curl {base}{path} \\\n  -H "Authorization: Bearer {KEY}" \\\n'
                f'  -F model={model} -F file=@hello.wav')
    else:
        curl = (f'curl {base}{path} \\\n  -H "Authorization: Bearer {KEY}" \\\n'
                f"  -H \"Content-Type: application/json\" \\\n  -d '{body.format(m=model)}'")
    python = (f'from openai import OpenAI\n\nclient = OpenAI(base_url="{base}", api_key="{KEY}")\n'
              + py.format(m=model))
    javascript = (f'import OpenAI from "openai";\n\nconst client = new OpenAI({{ baseURL: "{base}", apiKey: "{KEY}" }});\n'
                  + js.format(m=model))
    return {"curl": curl, "Python": python, "JavaScript": javascript}


def streaming_examples(model: str, base_url: str) -> dict[str, str]:
    base = api_base(base_url)
    return {
        "curl": (f'curl -N {base}/chat/completions \\\n  -H "Authorization: Bearer {KEY}" \\\n'
                 f'  -H "Content-Type: application/json" \\\n'
                 f"  -d '{{\"model\": \"{model}\", \"stream\": true, "
                 f"\"messages\": [{{\"role\": \"user\", \"content\": \"Count to 5\"}}]}}'"),
        "Python": (f'from openai import OpenAI\n\nclient = OpenAI(base_url="{base}", api_key="{KEY}")\n'
                   f'stream = client.chat.completions.create(\n    model="{model}", stream=True,\n'
                   '    messages=[{"role": "user", "content": "Count to 5"}],\n)\n'
                   'for chunk in stream:\n    if chunk.choices:\n'
                   '        print(chunk.choices[0].delta.content or "", end="")'),
        "JavaScript": (f'import OpenAI from "openai";\n\nconst client = new OpenAI({{ baseURL: "{base}", apiKey: "{KEY}" }});\n'
                       f'const stream = await client.chat.completions.create({{\n  model: "{model}", stream: true,\n'
                       '  messages: [{ role: "user", content: "Count to 5" }],\n});\n'
                       'for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? "");'),
    }
